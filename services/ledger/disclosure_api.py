"""HTTP for the monthly disclosure (一月一公示): publish a frozen version, read it as HTML, CSV, XLSX or text."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import func, select

from services.ledger import disclosure
from services.ledger.figures import month_range
from services.ledger.models import Disclosure, Entry, SupportingTask, TimelineItem
from services.ledger.service import utcnow
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["disclosure"])

NAME_RE = re.compile(r"^(\d{4}-\d{2})(?:\.(html|csv|xlsx|txt|json))?$")
MAX_VERSIONS = 50
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain; charset=utf-8",
}


class DisclosureIn(BaseModel):
    """Which community and month to publish."""

    model_config = ConfigDict(extra="forbid")

    community: str = Field(min_length=1, max_length=64)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")


class DisclosureOut(BaseModel):
    """A published version (its content is read through GET in any format)."""

    community: str
    month: str
    version: int
    created_at: dt.datetime
    created_by: str
    sha256: str
    summary: dict[str, int]
    change_from_previous_month: dict[str, int] | None
    changes_from_previous: dict | None = Field(None, description="For a correction: what changed from the last version")


def _prev_month(month: str) -> str:
    start, _ = month_range(month)
    return (start - dt.timedelta(days=1)).strftime("%Y-%m")


async def _latest(s, community: str, month: str) -> Disclosure | None:
    q = (
        select(Disclosure)
        .where(Disclosure.community == community, Disclosure.month == month)
        .order_by(Disclosure.version.desc())
    )
    return (await s.exec(q)).first()


async def freeze(uow, community: str, month: str, *, actor: str, now: dt.datetime) -> tuple[Disclosure, dict | None]:
    """Freeze a month's disclosure as the next version (in the caller's transaction); return it and its diff."""
    start, end = month_range(month)
    s = uow.session
    entries = list((await s.exec(select(Entry).where(Entry.community == community))).all())
    ids = [e.id for e in entries if disclosure.listed(e, start, end)]
    timelines: dict[str, list[TimelineItem]] = {}
    supporting: dict[str, list[SupportingTask]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        q = select(TimelineItem).where(TimelineItem.entry_id.in_(part)).order_by(TimelineItem.seq)
        for item in (await s.exec(q)).all():
            timelines.setdefault(item.entry_id, []).append(item)
        q2 = select(SupportingTask).where(SupportingTask.entry_id.in_(part)).order_by(SupportingTask.created_at)
        for t in (await s.exec(q2)).all():
            supporting.setdefault(t.entry_id, []).append(t)
    prev_pub = await _latest(s, community, _prev_month(month))
    if prev_pub is not None:
        previous = prev_pub.content["summary"]
    else:
        p_start, _ = month_range(_prev_month(month))
        previous = disclosure.summarise(entries, p_start, start)
    content = disclosure.build(community, month, entries, timelines, supporting, start, end, previous, now)
    last = await _latest(s, community, month)
    if last is not None and last.version >= MAX_VERSIONS:
        raise Problem(409, "更正次数已达上限", f"At most {MAX_VERSIONS} versions per month")
    changes = disclosure.diff(last.content, content) if last is not None else None
    if changes is not None:
        content["changes_from_previous"] = changes
    row = Disclosure(
        community=community,
        month=month,
        version=(last.version + 1) if last is not None else 1,
        created_at=now,
        created_by=actor[:128],
        content=content,
        sha256=disclosure.digest(content),
    )
    s.add(row)
    await s.flush()
    return row, changes


@router.post("/disclosures", response_model=DisclosureOut, status_code=201, summary="Publish a month (一月一公示)")
async def publish(
    body: DisclosureIn, ctx: Ctx, principal: Annotated[Principal, Depends(require("disclosure.publish"))]
) -> DisclosureOut:
    """Freeze the month's disclosure; publishing again makes a new version (a correction) with its diff."""
    in_scope(principal, body.community)
    start, _ = month_range(body.month)
    now = utcnow()
    if start > now:
        raise Problem(422, "不能公示尚未开始的月份", "The month has not begun", field="month")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        row, changes = await freeze(uow, body.community, body.month, actor=principal.sub, now=now)
        content = row.content
        await uow.commit()
    return DisclosureOut(
        community=row.community,
        month=row.month,
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        sha256=row.sha256,
        summary=content["summary"],
        change_from_previous_month=content["change_from_previous_month"],
        changes_from_previous=changes,
    )


@router.get(
    "/disclosures/{community}/{name}",
    summary="Read a disclosure: YYYY-MM (HTML), YYYY-MM.csv, .xlsx, .txt or .json",
    response_model=None,
)
async def read(
    community: str,
    name: str,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("disclosure.read"))],
    version: int | None = Query(None, ge=1, le=MAX_VERSIONS),
) -> Response:
    """The latest version (or `version`) of a community's month, in the format named by the suffix."""
    m = NAME_RE.match(name)
    if m is None:
        raise Problem(404, "格式应为 YYYY-MM[.csv|.xlsx|.txt|.json]", "Use YYYY-MM[.csv|.xlsx|.txt|.json]")
    month, fmt = m.group(1), m.group(2) or "html"
    in_scope(principal, community)
    async with ctx.db.session() as s:
        if version is None:
            row = await _latest(s, community, month)
        else:
            q = select(Disclosure).where(
                Disclosure.community == community, Disclosure.month == month, Disclosure.version == version
            )
            row = (await s.exec(q)).first()
        count = (
            await s.exec(
                select(func.count())
                .select_from(Disclosure)
                .where(Disclosure.community == community, Disclosure.month == month)
            )
        ).one()
    if row is None:
        raise Problem(404, "该月尚未公示", "No disclosure for this month")
    if disclosure.digest(row.content) != row.sha256:
        raise Problem(500, "公示内容校验失败", "Disclosure content does not match its sha256")
    meta = {"version": row.version, "versions": count, "sha256": row.sha256, "created_at": row.created_at}
    filename = f"{community}-{month}-v{row.version}.{fmt}"
    headers = {"Content-Disposition": f'inline; filename="{filename}"', "X-Disclosure-Version": str(row.version)}
    if fmt == "html":
        return HTMLResponse(disclosure.to_html(row.content, meta), headers=headers)
    if fmt == "json":
        content = disclosure.public(row.content)
        return JSONResponse({**meta, "created_at": row.created_at.isoformat(), "content": content}, headers=headers)
    if fmt == "csv":
        return Response(disclosure.to_csv(row.content), media_type=MEDIA["csv"], headers=headers)
    if fmt == "xlsx":
        return Response(disclosure.to_xlsx(row.content, meta), media_type=MEDIA["xlsx"], headers=headers)
    return Response(disclosure.to_txt(row.content), media_type=MEDIA["txt"], headers=headers)
