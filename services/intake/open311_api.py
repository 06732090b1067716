"""HTTP routes of open311: parse, call open311, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import func, select

from services.contracts.media import safe_photo
from services.intake import domain, limits_api
from services.intake.models import ApiKey, Report
from services.intake.open311 import SERVICES, format_of, parse_moment, published, service_of
from services.intake.service import Incoming, accept
from services.runtime.auth import api_key_matches, hash_api_key
from services.runtime.authz import public
from services.runtime.directory import load_directory
from services.runtime.inputs import YEAR_MAX, YEAR_MIN, control_at, printable
from services.runtime.service import Ctx

router = APIRouter(
    prefix="/open311/v2",
    tags=["open311"],
    dependencies=[Depends(public("Open311 GeoReport v2: masked public reads; POST authenticates with api_key"))],
)


ROOTS = {"services": ("services", "service"), "requests": ("service_requests", "request"),
         "errors": ("errors", "error"), "tokens": ("service_requests", "request")}  # fmt: skip


def _xml(kind: str, items: Any) -> bytes:
    root_name, item_name = ROOTS[kind]
    root = ET.Element(root_name)
    for item in items if isinstance(items, list) else [items]:
        el = ET.SubElement(root, item_name)
        for key, value in item.items():
            child = ET.SubElement(el, key)
            if isinstance(value, list):
                for sub in value:
                    ET.SubElement(child, key.rstrip("s") or "item").text = printable(str(sub))
            elif value is not None:
                # Notes from other services may hold characters XML 1.0 cannot carry: leave them out.
                child.text = str(value).lower() if isinstance(value, bool) else printable(str(value))
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="utf-8")


def respond(fmt: str, kind: str, body: Any, status: int = 200, headers: dict | None = None) -> Response:
    """The spec's array bodies, as JSON or XML."""
    if fmt == "xml":
        return Response(_xml(kind, body), status_code=status, media_type="text/xml", headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def error(fmt: str, status: int, zh: str, en: str, headers: dict | None = None) -> Response:
    """The spec's error format: [{"code": 400, "description": "..."}], Chinese first."""
    return respond(fmt, "errors", [{"code": status, "description": f"{zh} / {en}"}], status, headers)


MAX_ROWS = 1000


DATES = f"{YEAR_MIN}–{YEAR_MAX}"


@router.get("/services.{fmt}", summary="Open311: service list")
async def services(fmt: str) -> Response:
    """One service per top-level category (service_code = category id)."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    return respond(fmt, "services", [service_of(code) for code in SERVICES])


@router.get("/services/{code}.{fmt}", summary="Open311: service definition")
async def service_definition(code: str, fmt: str) -> Response:
    """No service has extra attributes (metadata false): the definition lists none."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    if code not in SERVICES:
        return error(fmt, 404, f"没有服务「{code}」", f"Unknown service_code {code!r}")
    body = {"service_code": code, "attributes": []}
    return respond(fmt, "services", body) if fmt == "xml" else JSONResponse(body)


async def _api_key(ctx: Ctx, secret: str) -> ApiKey | None:
    async with ctx.db.session() as s:
        key = (await s.exec(select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret)))).first()
    if key is None or key.revoked_at is not None or not api_key_matches(secret, key.key_hash):
        return None
    return key


@router.post("/requests.{fmt}", summary="Open311: create a service request (form-encoded)")
async def create_request(fmt: str, request: Request, ctx: Ctx) -> Response:
    """Create a request; api_key, jurisdiction_id, service_code, a location and a description are required."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    d = await limits_api.check(ctx, "open311-ip", limits_api.client_ip(request), ctx.settings.ratelimit_per_ip)
    if not d.allowed:
        return error(fmt, 429, "请求过于频繁", "Too many requests", {"Retry-After": str(d.retry_after)})
    try:
        form = await request.form()
    except Exception:
        return error(fmt, 400, "请求体应为表单编码", "Body must be form-encoded")
    f = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    bad = next((k for k, v in f.items() if control_at(v)), None)
    if bad is not None:  # the rule accept() applies, answered in the spec's error format
        return error(fmt, 400, f"{bad[:40]} 含有不可见的控制字符", f"{bad[:40]!r} contains control characters")
    key = await _api_key(ctx, f.get("api_key", "")) if f.get("api_key") else None
    if key is None:
        return error(fmt, 403, "api_key 缺失或无效", "Missing or invalid api_key")
    community = load_directory().community(f.get("jurisdiction_id", ""))
    if community is None:
        return error(fmt, 404, "未知的 jurisdiction_id", "Unknown jurisdiction_id")
    if "open311" not in key.channels or not ({community.code, "*"} & set(key.communities)):
        return error(fmt, 403, "api_key 无权提交到此辖区", "api_key not allowed for this jurisdiction")
    code = f.get("service_code", "")
    if code not in SERVICES:
        return error(fmt, 404 if code else 400, "service_code 缺失或未知", "Missing or unknown service_code")
    if f.get("media_url") and not safe_photo(f["media_url"][:500]):
        return error(fmt, 400, "media_url 须为 http(s) 链接", "media_url must be an http(s) URL")
    lat, lon, address = f.get("lat"), f.get("long"), f.get("address_string", "")
    if not address and not (lat and lon):
        return error(fmt, 400, "需要 address_string 或 lat/long", "address_string or lat/long is required")
    try:
        coords = (float(lat), float(lon)) if lat and lon else None
    except ValueError:
        return error(fmt, 400, "lat/long 应为数字", "lat/long must be numbers")
    if coords and not (-90 <= coords[0] <= 90 and -180 <= coords[1] <= 180):
        return error(fmt, 400, "lat/long 超出范围", "lat/long out of range")
    description = domain.clean_text(f.get("description", ""))
    if not description or len(description) > 2000 or len(address) > 200:
        return error(fmt, 400, "description 必填且不超过 2000 字", "description is required (at most 2000)")
    phone = re.sub(r"[\s-]", "", f.get("phone", "")).removeprefix("+86") or None
    if phone and not domain.valid_phone(phone):
        return error(fmt, 400, "phone 应为 11 位手机号", "phone must be an 11-digit mobile number")
    name = (f.get("last_name", "") + f.get("first_name", "")).strip()[:32] or None  # 姓 + 名
    attributes = {k[10:-1]: v[:200] for k, v in f.items() if k.startswith("attribute[") and k.endswith("]")}
    if len(attributes) > 20:
        return error(fmt, 400, "attribute 过多（最多 20 项）", "Too many attributes (at most 20)")
    consent = domain.consent_value(attributes.get("callback_consent"))
    if consent is None:
        return error(
            fmt, 400, "attribute[callback_consent] 应为 true 或 false", "attribute[callback_consent] must be true/false"
        )
    place = domain.parse_place(domain.clean_text(address), community) if address else None
    idem = request.headers.get("idempotency-key", "")[:100]
    inc = Incoming(
        community=community.code,
        channel="open311",
        channel_message_id=f"o311-{idem}" if idem else f"o311-{uuid.uuid4().hex}",
        text=description,
        compound=place.compound if place else None,
        building=place.building if place else None,
        unit=place.unit if place else None,
        room=place.room if place else None,
        category_hint=code,
        photos=[f["media_url"][:500]] if f.get("media_url") else [],
        name=name,
        phone=phone,
        callback_consent=consent,
        sender_id=f.get("device_id") or f.get("account_id") or None,
        provenance={"entered_by": f"apikey:{key.id}", "attributes": attributes, "has_coordinates": bool(coords)},
    )
    report, _created = await ctx.bus.run(lambda uow: accept(uow, inc), actor=f"apikey:{key.id}")
    notice = f"已受理，查询码 {report.tracking_code} / Received; tracking code {report.tracking_code}"
    body = [{"service_request_id": report.id, "service_notice": notice, "account_id": None}]
    return respond(fmt, "requests", body)


@router.get("/requests.{fmt}", summary="Open311: list service requests")
async def list_requests(
    fmt: str,
    ctx: Ctx,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
) -> Response:
    """Requests, newest first; by default the last 90 days and at most 1000 (as the spec suggests)."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    q = select(Report)
    if jurisdiction_id:
        if load_directory().community(jurisdiction_id) is None:
            return error(fmt, 404, "未知的 jurisdiction_id", "Unknown jurisdiction_id")
        q = q.where(Report.community == jurisdiction_id)
    if service_request_id:  # the spec: when ids are given, other filters are ignored
        q = q.where(Report.id.in_([i.strip() for i in service_request_id.split(",")][:MAX_ROWS]))
    else:
        now = dt.datetime.now(dt.UTC)
        start = parse_moment(start_date) if start_date else now - dt.timedelta(days=90)
        end = parse_moment(end_date) if end_date else None
        for name, value in (("start_date", start), ("end_date", end if end_date else now)):
            if value is None:  # Open311 clients expect the spec's error list, not problem+json
                return error(fmt, 400, f"{name} 应为 {DATES} 年间的 ISO 8601 时间", f"{name} must be ISO 8601, {DATES}")
        q = q.where(Report.received_at >= start)
        if end is not None:
            q = q.where(Report.received_at <= end)
        if service_code:
            q = q.where(func.coalesce(Report.category, Report.category_hint).in_(service_code.split(",")))
        if status:
            wanted = set(status.split(","))
            if not wanted <= {"open", "closed"}:
                return error(fmt, 400, "status 应为 open 或 closed", "status must be open or closed")
            if wanted == {"closed"}:
                q = q.where(Report.status == "closed")
            elif wanted == {"open"}:
                q = q.where(Report.status != "closed")
    q = q.order_by(Report.received_at.desc()).limit(MAX_ROWS)
    async with ctx.db.session() as s:
        rows = (await s.exec(q)).all()
    return respond(fmt, "requests", [published(r) for r in rows])


@router.get("/requests/{request_id}.{fmt}", summary="Open311: one service request")
async def get_request(request_id: str, fmt: str, ctx: Ctx) -> Response:
    """One request, as an array of one (the spec's shape)."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    async with ctx.db.session() as s:
        r = await s.get(Report, request_id)
    if r is None:
        return error(fmt, 404, "没有该服务请求", "Unknown service_request_id")
    return respond(fmt, "requests", [published(r)])


@router.get("/tokens/{token}.{fmt}", summary="Open311: request id from a token")
async def get_token(token: str, fmt: str, ctx: Ctx, request: Request) -> Response:
    """The token is the tracking code (查询码) a POST returned in its service_notice."""
    if not format_of(fmt):
        return error("json", 404, "不支持的格式", "Unknown format")
    # A tracking-code oracle like /v1/track: the same per-IP budget, shared, so guessing cannot go around it.
    d = await limits_api.check(ctx, "track-ip", limits_api.client_ip(request), ctx.settings.ratelimit_per_ip)
    if not d.allowed:
        return error(fmt, 429, "请求过于频繁", "Too many requests", {"Retry-After": str(d.retry_after)})
    code = token.strip().upper()
    async with ctx.db.session() as s:
        r = (await s.exec(select(Report).where(Report.tracking_code == code))).first()
    if r is None:
        return error(fmt, 404, "没有该 token", "Unknown token")
    return respond(fmt, "tokens", [{"service_request_id": r.id, "token": r.tracking_code}])
