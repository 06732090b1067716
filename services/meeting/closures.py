"""Crossed-off matters (销号, matter.closed.v1) leave the waiting queue and the agendas not yet held."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from services.meeting import planner, service
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, utc
from services.runtime.directory import Community
from services.runtime.uow import UnitOfWork

CLOSED_NOTE = "议题事项已在台账销号（办结），撤出议程"
CLOSED_CANCEL = "议题事项已在台账销号（办结），本次议事会取消"
MERGED_NOTE = "议题事项已与同一问题的其他事项合并，撤出议程（随合并后的事项议事）"
MERGED_CANCEL = "议题事项已与同一问题的其他事项合并，本次议事会取消"


async def open_sessions_with(uow: UnitOfWork, community: str, matter_id: str) -> list[MeetingSession]:
    """The community's sessions not yet held whose agenda holds the matter."""
    q = (
        select(MeetingSession)
        .join(AgendaItem, AgendaItem.session_id == MeetingSession.id)
        .where(
            AgendaItem.matter_id == matter_id,
            MeetingSession.community == community,
            MeetingSession.status == "scheduled",
        )
    )
    return list((await uow.session.exec(q)).all())


async def drop_closed(
    uow: UnitOfWork,
    community: Community,
    qm: QueuedMatter,
    *,
    by: str,
    at: datetime,
    merged: bool = False,
) -> None:
    """A crossed-off (销号) or merged (合并) matter leaves the queue and every agenda not yet held (idempotent).

    A one-matter session (emergency, site inspection) left without a matter is cancelled, so invitees
    get the cancellation notice; a fixed-day session keeps its day and its freed place is filled at once.
    """
    freed = False
    for found in await open_sessions_with(uow, community.code, qm.matter_id):
        s = await planner.lock_session(uow, found.id)
        if s.status != "scheduled":
            continue  # concluded or cancelled by someone else meanwhile
        ids = await planner.agenda_ids(uow, s.id)
        change = "matter_merged" if merged else "matter_closed"
        note = {"at": utc(at).isoformat(), "by": by, "change": change, "matter_id": qm.matter_id}
        dropped, cancelled = (MERGED_NOTE, MERGED_CANCEL) if merged else (CLOSED_NOTE, CLOSED_CANCEL)
        if s.kind != "fixed_day" and ids == [qm.matter_id]:
            # The agenda item stays on the cancelled session: the record and the notice name the matter.
            s.status, s.concluded_at, s.sequence = "cancelled", planner.utcnow(), s.sequence + 1
            s.minutes = {"cancelled_by": by, "reason": cancelled}
            s.history = [*s.history, {**note, "reason": cancelled}][-50:]
            uow.session.add(s)
            await planner.emit_scheduled(uow, s, status="cancelled", agenda=ids)
            continue
        await planner.remove_from_agenda(uow, s.id, qm.matter_id)
        s.history = [*s.history, {**note, "reason": dropped}][-50:]
        uow.session.add(s)
        await planner.emit_scheduled(uow, s)
        freed = freed or s.kind == "fixed_day"
    qm.state, qm.session_id, qm.updated_at = "closed", None, planner.utcnow()
    uow.session.add(qm)
    if freed:
        await uow.session.flush()
        await service.plan_community(uow, community, planner.utcnow())
