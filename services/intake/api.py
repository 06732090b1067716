"""Intake's HTTP API: reports from staff and adapters, tracking-code lookups, adapter API keys."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlmodel import func, or_, select

from services.contracts import labels
from services.contracts.media import Photo
from services.contracts.refs import ledger_ref
from services.contracts.vocabulary import Category, Channel, Kind, Level
from services.intake import domain, limits_api
from services.intake.handlers import STEP_OF_STATE, STEPS
from services.intake.models import ApiKey, MatterStep, Report
from services.intake.photo_store import PREFIX, stored
from services.intake.service import Incoming, accept
from services.runtime.auth import Principal, api_key_matches, hash_api_key, new_api_key
from services.runtime.authz import KeyGrant, in_scope, public, require, require_or_key, scope_filter
from services.runtime.directory import load_directory
from services.runtime.export import (
    EXPORT_MAX,
    Keyword,
    Lang,
    Since,
    Until,
    like,
    place_words,
    within,
    xlsx_response,
)
from services.runtime.inputs import Moment
from services.runtime.pages import Limit, Offset, Page
from services.runtime.privacy import mask_name, public_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])
BOXED = ("opinion_box", "wish_wall")


class ProvenanceIn(BaseModel):
    """Where a paper note came from (opinion boxes, wish walls); who typed it in comes from the token."""

    box: str | None = Field(None, max_length=100, description="Which box or wall, e.g. 金泰和庄东门意见箱")
    collected_at: Moment | None = Field(None, description="When the box was opened or the wall read")
    on_behalf_of: str | None = Field(None, max_length=32, description="The writer's name if signed; stored masked")


class ReportIn(BaseModel):
    """A report as the mini-program, a staff member or an HTTP adapter submits it."""

    community: str = Field(min_length=1, max_length=64, description="Community code, e.g. jinshan")
    channel: Channel = "miniprogram"
    channel_message_id: str | None = Field(None, max_length=128, description="Idempotency key; generated if absent")
    text: str = Field(min_length=1, max_length=2000)
    compound: str | None = Field(None, max_length=64)
    building: str | None = Field(None, max_length=32)
    unit: str | None = Field(None, max_length=16)
    room: str | None = Field(None, max_length=16)
    kind: Kind | None = None
    category_hint: Category | None = None
    photos: list[Photo] = Field(default_factory=list, max_length=9, description="http(s) URLs or upload paths")
    name: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    consent: bool = Field(True, description="Reporter agrees to be contacted about this report")
    callback_consent: bool = Field(
        False, description="Reporter agrees that community staff may call them back (同意社区工作人员回电联系我)"
    )
    occurred_at: Moment | None = None
    provenance: ProvenanceIn | None = Field(None, description="Required for opinion_box and wish_wall")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("内容不能为空 / Text must not be blank")
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not domain.valid_phone(v):
            raise ValueError("手机号格式不正确（应为 11 位大陆手机号） / Not a valid mainland mobile number")
        return v


class ReportOut(BaseModel):
    """What staff see of a report (personal data masked)."""

    id: str
    tracking_code: str
    community: str
    channel: str
    kind: str
    text: str
    compound: str | None
    building: str | None
    unit: str | None
    unparsed: list[str]
    reporter: dict
    received_at: dt.datetime
    matter_id: str | None
    status: str
    level: str | None
    provenance: dict = {}
    callback_consent: bool = False
    photos: list[str] = []  # upload references (fetched with a staff token) or an adapter's http(s) link


class Accepted(BaseModel):
    """The answer to a submitted report."""

    report_id: str
    tracking_code: str
    created: bool


class TrackStep(BaseModel):
    """One step residents follow (受理、分级、交办、办理中、办结、评价): reached or not, and when first reached."""

    step: str
    label: str = Field(description="The step in words (Chinese / English)")
    done: bool
    current: bool
    at: dt.datetime | None


STEP_LABELS = {
    "received": "已受理 / Received",
    "graded": "已分级 / Graded",
    "assigned": "已交办 / Assigned",
    "in_progress": "办理中 / In progress",
    "done": "已办结 / Done",
    "evaluated": "已评价 / Evaluated",
}
# How far along each report status is, as an index into STEPS.
STATUS_STEP = {"received": 0, "triaged": 1, "reopened": 3} | {
    state: STEPS.index(step) for state, step in STEP_OF_STATE.items()
}


class TrackOut(BaseModel):
    """What anyone holding a tracking code may see: status, steps, unit and dates; nothing personal."""

    tracking_code: str
    status: str
    summary: str = Field(description="The report's text with personal data scrubbed, at most 120 characters")
    steps: list[TrackStep]
    status_note: str | None
    responsible: str | None
    expected_at: dt.datetime | None
    received_at: dt.datetime
    updated_at: dt.datetime
    ledger_ref: str | None = Field(None, description="The matter's reference in the monthly disclosure (公示编号)")


def _out(r: Report) -> ReportOut:
    return ReportOut(
        id=r.id,
        tracking_code=r.tracking_code,
        community=r.community,
        channel=r.channel,
        kind=r.kind,
        text=r.text,
        compound=r.compound,
        building=r.building,
        unit=r.unit,
        unparsed=r.unparsed,
        reporter={"ref": r.reporter_ref, "name": r.reporter_name_masked, "phone": r.reporter_phone_masked},
        received_at=r.received_at,
        matter_id=r.matter_id,
        status=r.status,
        level=r.level,
        provenance=r.provenance,
        callback_consent=r.callback_consent,
        photos=list(r.photos or []),
    )


async def resolve_api_key(request: Request, key: str) -> KeyGrant | None:
    """Look up a presented adapter API key (stored hashed); None if unknown or revoked."""
    ctx = request.app.state.ctx
    async with ctx.db.session() as s:
        row = (await s.exec(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))).first()
    if row is None or row.revoked_at is not None or not api_key_matches(key, row.key_hash):
        return None
    return KeyGrant(id=row.id, channels=frozenset(row.channels), communities=frozenset(row.communities))


Submitter = Annotated[Principal | KeyGrant, Depends(require_or_key("report.create", resolve_api_key))]


async def admit(ctx, who: Principal | KeyGrant, community: str, channel: str) -> str:
    """Check a submitter's scope for a community and channel, apply its rate limit; return the actor."""
    if isinstance(who, KeyGrant):
        who.check(community, channel)
        await limits_api.enforce(ctx, "apikey", who.id, ctx.settings.ratelimit_per_api_key)
        return who.actor
    in_scope(who, community)
    return who.sub


@router.post("/reports", status_code=201, response_model=Accepted, summary="Submit a report (报事)")
async def submit_report(
    body: ReportIn,
    ctx: Ctx,
    who: Submitter,
) -> Accepted:
    """Accept a report from staff (bearer token) or a channel adapter (API key)."""
    community = load_directory().community(body.community)
    if community is None:
        raise Problem(422, f"未知社区「{body.community}」", f"Unknown community {body.community!r}", field="community")
    actor = await admit(ctx, who, body.community, body.channel)
    # Per reporter: only accepted reports count (a stranger's bad posts must not lock a phone out), and staff
    # entering a report for a resident are never limited by it.
    reporter = re.sub(r"\D", "", body.phone) if body.phone and isinstance(who, KeyGrant) else None
    if reporter:
        await limits_api.enforce_spent(ctx, "reporter", reporter, ctx.settings.ratelimit_per_reporter)
    provenance: dict = {"submitted_by": actor, "consent": body.consent}
    if body.channel in BOXED:
        p = body.provenance or ProvenanceIn()
        for name in ("box", "collected_at"):
            if not getattr(p, name):
                raise Problem(
                    422,
                    f"意见箱/心愿墙的报事必须填写{labels.field_words(name)}",
                    f"Field provenance.{name} is required for {body.channel}",
                    field=f"provenance.{name}",
                )
        provenance |= {
            "entered_by": actor,
            "box": p.box.strip(),
            "collected_at": p.collected_at.isoformat(),
            "on_behalf_of": mask_name(p.on_behalf_of),
        }
    for i, ref in enumerate(body.photos):
        if ref.startswith(PREFIX) and not stored(ctx.settings, ref, body.community):
            raise Problem(422, "照片未上传或不属于该社区，请重新上传", "Unknown uploaded photo", field=f"photos.{i}")
    if body.compound and community.compound(body.compound) is None:
        raise Problem(
            422, f"社区内没有小区「{body.compound}」", f"Unknown compound {body.compound!r}", field="compound"
        )
    inc = Incoming(
        community=body.community,
        channel=body.channel,
        channel_message_id=body.channel_message_id or f"http-{uuid.uuid4().hex}",
        fresh_id=body.channel_message_id is None,
        text=body.text,
        compound=body.compound,
        building=body.building,
        unit=body.unit,
        room=body.room,
        kind_hint=body.kind,
        category_hint=body.category_hint,
        photos=body.photos,
        name=body.name or (body.provenance.on_behalf_of if body.provenance else None),
        phone=body.phone,
        occurred_at=body.occurred_at,
        provenance=provenance,
        callback_consent=body.callback_consent,
    )
    report, created = await ctx.bus.run(lambda uow: accept(uow, inc), actor=actor)
    if reporter and created:
        await limits_api.check(ctx, "reporter", reporter, ctx.settings.ratelimit_per_reporter)
    return Accepted(report_id=report.id, tracking_code=report.tracking_code, created=created)


def _report_conditions(principal, community, status, channel, level, q, since, until) -> list:
    """The WHERE of the report list and its export (same filters, same scope)."""
    conds = [scope_filter(principal, Report.community, community)]
    if status:
        conds.append(Report.status == status)
    if channel:
        conds.append(Report.channel == channel)
    if level:
        conds.append(Report.level == level)
    if q and q.strip():
        pattern = like(q)
        conds.append(or_(Report.text.like(pattern, escape="\\"), Report.tracking_code == q.strip().upper()))
    conds += within(Report.received_at, since, until)
    return conds


@router.get("/reports", response_model=Page[ReportOut], summary="List reports (staff)")
async def list_reports(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("report.read"))],
    community: str | None = None,
    status: str | None = Query(None, max_length=32),
    channel: Channel | None = None,
    level: Level | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ReportOut]:
    """Reports of the communities the caller may see, newest first (q: the text, or a tracking code)."""
    conds = _report_conditions(principal, community, status, channel, level, q, since, until)
    query = select(Report).where(*conds).order_by(Report.received_at.desc()).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(Report).where(*conds))).one()
        items = [_out(r) for r in (await s.exec(query)).all()]
    return Page[ReportOut](items=items, total=total, limit=limit, offset=offset)


REPORT_HEADERS = {
    "zh": ["查询码", "收到时间", "社区及地点", "渠道", "类型", "内容", "等级", "状态"],
    "en": ["Tracking code", "Received", "Place", "Channel", "Kind", "Text", "Level", "Status"],
}


@router.get("/reports.xlsx", summary="Export reports (报事导出, XLSX)")
async def export_reports(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("report.read"))],
    community: str | None = None,
    status: str | None = Query(None, max_length=32),
    channel: Channel | None = None,
    level: Level | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same reports as the list, in words; a report is known by its public tracking code, no contact details."""
    conds = _report_conditions(principal, community, status, channel, level, q, since, until)
    query = select(Report).where(*conds).order_by(Report.received_at.desc()).limit(EXPORT_MAX)
    async with ctx.db.session() as s:
        rows = (await s.exec(query)).all()
    word = labels.zh if lang == "zh" else labels.en
    body = [
        [
            r.tracking_code,
            r.received_at,
            place_words(r.community, r.compound, r.building),
            word("channel", r.channel),
            word("kind", r.kind),
            r.text,
            word("level", r.level) if r.level else "",
            word("report_status", r.status),
        ]
        for r in rows
    ]
    title = "报事" if lang == "zh" else "Reports"
    return xlsx_response(title, REPORT_HEADERS[lang], body, f"{title}.xlsx")


@router.get("/reports/{report_id}", response_model=ReportOut, summary="One report (staff)")
async def get_report(
    report_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("report.read"))]
) -> ReportOut:
    """One report, if the caller may see its community."""
    async with ctx.db.session() as s:
        r = await s.get(Report, report_id)
    if r is None:
        raise Problem(404, "未找到该报事", "Report not found")
    in_scope(principal, r.community)
    return _out(r)


@router.get(
    "/track/{code}",
    response_model=TrackOut,
    summary="Status by tracking code (查询码, public)",
    dependencies=[Depends(public("residents look up status by tracking code; status only, rate-limited per IP"))],
)
async def track(code: str, ctx: Ctx, request: Request) -> TrackOut:
    """Public lookup by tracking code: status only."""
    await limits_api.enforce(ctx, "track-ip", limits_api.client_ip(request), ctx.settings.ratelimit_per_ip)
    code = code.strip().upper()
    if len(code) != 8 or any(c not in domain.TRACKING_ALPHABET for c in code):
        raise Problem(404, "查询码不存在", "Unknown tracking code")
    async with ctx.db.session() as s:
        r = (await s.exec(select(Report).where(Report.tracking_code == code))).first()
        reached = {}
        if r is not None and r.matter_id:
            rows = await s.exec(select(MatterStep).where(MatterStep.matter_id == r.matter_id))
            reached = {row.step: row.at for row in rows if row.community == r.community}
    if r is None:
        raise Problem(404, "查询码不存在", "Unknown tracking code")
    reached["received"] = r.received_at
    now = STATUS_STEP.get(r.status, 0)
    summary = public_text(r.text) or ""
    return TrackOut(
        tracking_code=r.tracking_code,
        status=r.status,
        summary=summary if len(summary) <= 120 else summary[:119] + "…",
        steps=[
            TrackStep(
                step=k, label=STEP_LABELS[k], done=i <= now, current=i == now, at=reached.get(k) if i <= now else None
            )
            for i, k in enumerate(STEPS)
        ],
        status_note=public_text(r.status_note),
        responsible=public_text(r.responsible),
        expected_at=r.expected_at,
        received_at=r.received_at,
        updated_at=r.updated_at,
        ledger_ref=ledger_ref(r.matter_id) if r.matter_id else None,
    )


class ApiKeyIn(BaseModel):
    """A new adapter API key's scope."""

    name: str = Field(min_length=1, max_length=100)
    channels: list[Channel] = Field(min_length=1, max_length=10)
    communities: list[str] = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    """A created key; the secret is shown only once."""

    id: str
    name: str
    key: str | None = None
    channels: list[str]
    communities: list[str]


@router.post("/apikeys", status_code=201, response_model=ApiKeyOut, summary="Create an adapter API key")
async def create_api_key(
    body: ApiKeyIn, ctx: Ctx, principal: Annotated[Principal, Depends(require("apikey.manage"))]
) -> ApiKeyOut:
    """Create an API key scoped to channels and communities the caller may manage."""
    for c in body.communities:
        if c == "*" and not principal.county_wide:
            raise Problem(403, "只有县级管理员可创建全县范围的 Key", "Only county operators may scope '*'")
        if c != "*":
            in_scope(principal, c)
    return await store_api_key(
        ctx.db, name=body.name, channels=list(body.channels), communities=body.communities, created_by=principal.sub
    )


async def store_api_key(db, *, name: str, channels: list[str], communities: list[str], created_by: str) -> ApiKeyOut:
    """Create and store a hashed API key; return it with its secret (shown once)."""
    secret = new_api_key()
    key = ApiKey(
        id=f"key_{uuid.uuid4().hex[:16]}",
        name=name,
        key_hash=hash_api_key(secret),
        channels=channels,
        communities=communities,
        created_by=created_by,
        created_at=dt.datetime.now(dt.UTC),
    )
    async with db.session() as s:
        s.add(key)
        await s.commit()
    return ApiKeyOut(id=key.id, name=name, key=secret, channels=channels, communities=communities)


@router.get("/stats", summary="Counts by status (staff)")
async def stats(ctx: Ctx, principal: Annotated[Principal, Depends(require("report.read"))]) -> dict:
    """Report counts by status for the caller's communities."""
    q = select(Report.status, func.count()).where(scope_filter(principal, Report.community)).group_by(Report.status)
    async with ctx.db.session() as s:
        return {status: n for status, n in (await s.exec(q)).all()}
