"""Handling results back to the 12345 platform (工单回复): one reply per order, as JSON, CSV or XLSX."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import Envelope, events
from services.intake.models import HotlineReply, Report
from services.runtime.privacy import scrub_text
from services.runtime.uow import UnitOfWork

CHANNEL = "hotline_12345"


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


def as_utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
