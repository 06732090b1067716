"""Handling results back to the 12345 platform (工单回复): one reply per order, as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import Envelope, events
from services.intake.api import resolve_api_key
from services.intake.models import HotlineReply, Report
from services.runtime.auth import Principal
from services.runtime.authz import KeyGrant, require_or_key, scope_filter
from services.runtime.pages import Limit, Offset, Page
from services.runtime.privacy import scrub_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx
from services.runtime.uow import UnitOfWork

router = APIRouter(prefix="/v1", tags=["intake"])
CHANNEL = "hotline_12345"
TZ = dt.timezone(dt.timedelta(hours=8))
STATE_ZH = {"open": "办理中", "completed": "已办结，待回访", "ready": "可回复"}
# The columns a 12345 platform's reply import expects, in its order.
COLUMNS = ("工单编号", "办理状态", "办理结果", "办理单位", "办结时间", "回访情况", "满意度", "承办时限", "是否超时")
Reader = Annotated[Principal | KeyGrant, Depends(require_or_key("report.read", resolve_api_key))]


class ReplyOut(BaseModel):
    """One order's reply: what was done, by whom, when, and what residents said on the revisit."""

    order_no: str
    state: str
    state_label: str
    result: str | None
    unit: str | None
    completed_at: dt.datetime | None
    revisit: str | None
    satisfaction: str | None
    due_by: dt.datetime | None
    late: bool | None


def opened(report: Report, order_no: str, due_by: dt.datetime | None) -> HotlineReply:
    """The reply record of a newly filed order (nothing to say yet)."""
    return HotlineReply(
        order_no=order_no,
        report_id=report.id,
        community=report.community,
        due_by=due_by,
        updated_at=dt.datetime.now(dt.UTC),
    )


async def _replies(s: AsyncSession, matter_id: str) -> list[HotlineReply]:
    q = (
        select(HotlineReply)
        .join(Report, Report.id == HotlineReply.report_id)
        .where(Report.matter_id == matter_id, Report.channel == CHANNEL)
        .with_for_update()
    )
    return list((await s.exec(q)).all())


def satisfaction_text(rate: float | None) -> str | None:
    """满意度 in words, e.g. 满意（满意率 100%）."""
    if rate is None:
        return None
    return f"{'满意' if rate >= 0.5 else '不满意'}（满意率 {rate:.0%}）"


async def on_entry(uow: UnitOfWork, env: Envelope, data: events.EntryEvent) -> None:
    """Completed: the result, unit and time; evaluated: the revisit and satisfaction (the reply is ready)."""
    rows = await _replies(uow.session, data.matter_id)
    now = dt.datetime.now(dt.UTC)
    for r in rows:
        if r.community != env.community:
            continue
        if data.state == "completed":
            r.result = scrub_text(data.note or data.measures or "")[:2000] or None
            r.unit, r.completed_at = data.lead_unit, data.at
            r.state, r.revisit, r.satisfaction = "completed", None, None
        elif data.state == "evaluated" and r.completed_at is not None:
            r.satisfaction = data.satisfaction
            r.revisit = f"已回访，居民评价{satisfaction_text(data.satisfaction) or '满意'}"
            r.state = "ready"
        else:
            continue
        r.updated_at = now
        uow.session.add(r)


async def on_matter_reopened(uow: UnitOfWork, env: Envelope, data: events.MatterReopened) -> None:
    """Residents were not satisfied: the order is being handled again; no reply yet."""
    for r in await _replies(uow.session, data.matter_id):
        if r.community == env.community:
            r.state, r.revisit = "open", f"回访不满意，已重新办理（第{data.round}轮）"
            r.satisfaction, r.updated_at = data.rate, dt.datetime.now(dt.UTC)
            uow.session.add(r)


async def on_matter_closed(uow: UnitOfWork, env: Envelope, data: events.MatterClosed) -> None:
    """Crossed off (销号): whatever was said on the revisit, the order can be answered."""
    for r in await _replies(uow.session, data.matter_id):
        if r.community == env.community and r.completed_at is not None and r.state != "ready":
            r.state, r.revisit = "ready", r.revisit or "已销号"
            r.updated_at = dt.datetime.now(dt.UTC)
            uow.session.add(r)


def _out(r: HotlineReply) -> ReplyOut:
    late = None
    if r.due_by is not None and r.completed_at is not None:
        late = _utc(r.completed_at) > _utc(r.due_by)
    return ReplyOut(
        order_no=r.order_no,
        state=r.state,
        state_label=STATE_ZH[r.state],
        result=r.result,
        unit=r.unit,
        completed_at=_utc(r.completed_at) if r.completed_at else None,
        revisit=r.revisit,
        satisfaction=satisfaction_text(r.satisfaction),
        due_by=_utc(r.due_by) if r.due_by else None,
        late=late,
    )


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


async def _query(ctx, who, community: str | None, state: str | None, limit: int, offset: int):
    if isinstance(who, KeyGrant):
        if community is None:
            raise Problem(422, "请指定社区", "Give the community", field="community")
        who.check(community, CHANNEL)
        where = HotlineReply.community == community
    else:
        where = scope_filter(who, HotlineReply.community, community)
    conds = [where] + ([HotlineReply.state == state] if state else [])
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(HotlineReply).where(*conds))).one()
        q = select(HotlineReply).where(*conds).order_by(HotlineReply.updated_at, HotlineReply.order_no)
        rows = list((await s.exec(q.limit(limit).offset(offset))).all())
    return [_out(r) for r in rows], total


State = Annotated[Literal["open", "completed", "ready"] | None, Query(description="ready: 可回复")]


@router.get("/hotline-replies", response_model=Page[ReplyOut], summary="12345 replies (工单回复)")
async def list_replies(
    ctx: Ctx, who: Reader, community: str | None = None, state: State = None, limit: Limit = 50, offset: Offset = 0
) -> Page[ReplyOut]:
    """Each order's reply for the platform's adapter to pull (an API key scoped to hotline_12345) or staff."""
    items, total = await _query(ctx, who, community, state, limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


def _cells(r: ReplyOut) -> list[str]:
    when = r.completed_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if r.completed_at else ""
    due = r.due_by.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if r.due_by else ""
    late = "" if r.late is None else ("是" if r.late else "否")
    return [
        r.order_no,
        r.state_label,
        r.result or "",
        r.unit or "",
        when,
        r.revisit or "",
        r.satisfaction or "",
        due,
        late,
    ]


@router.get("/hotline-replies/export", summary="12345 replies as the platform imports them (CSV / XLSX)")
async def export_replies(
    ctx: Ctx,
    who: Reader,
    community: str | None = None,
    state: State = "ready",
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The replies in the platform's columns (工单编号, 办理结果, 办理单位, 办结时间, 回访情况, 满意度 ...)."""
    items, _ = await _query(ctx, who, community, state, 10_000, 0)
    stamp = dt.datetime.now(TZ).strftime("%Y%m%d")
    if format == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "工单回复"
        ws.append(list(COLUMNS))
        for r in items:
            ws.append(_cells(r))
        buf = io.BytesIO()
        wb.save(buf)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(buf.getvalue(), media_type=media, headers=_attachment(f"12345-replies-{stamp}.xlsx"))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in items:
        w.writerow(_cells(r))
    # With a BOM: the platform's operators open it in Excel, which needs it to read UTF-8.
    body = "\ufeff" + out.getvalue()
    return Response(body, media_type="text/csv; charset=utf-8", headers=_attachment(f"12345-replies-{stamp}.csv"))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
