"""Meeting's use cases: place a queued matter in a session (emergency, fixed day, site inspection), plan, carry over."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy import text
from sqlmodel import func, select

from services.meeting import domain, planner
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, aware, utc
from services.meeting.planner import (
    OPEN_CAPACITY,
    SITE_TIME,
    add_to_agenda,
    emit_scheduled,
    fixed_day_session,
    hall_of,
    lock_session,
    new_session_id,
    open_session_of,
    remove_from_agenda,
)
from services.runtime import workcal
from services.runtime.directory import Community, load_directory
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)


async def schedule_emergency(uow: UnitOfWork, community: Community, qm: QueuedMatter, now: datetime) -> MeetingSession:
    """Put a red matter on an emergency session: join a near one of its compound, or convene one."""
    slot = domain.emergency_slot(now, within_hours=community.hall.emergency_within_hours)
    await lock_compound(uow, community.code, qm.compound)
    target: MeetingSession | None = None
    if qm.compound:
        q = select(MeetingSession).where(
            MeetingSession.community == community.code,
            MeetingSession.kind == "emergency",
            MeetingSession.status == "scheduled",
            MeetingSession.compound == qm.compound,
            MeetingSession.starts_at > utc(now),
        )
        for s in (await uow.session.exec(q.order_by(MeetingSession.starts_at))).all():
            if domain.joins_emergency(aware(s.starts_at), s.compound, qm.compound, now, candidate=slot):
                target = s
                break
    if target is None:
        target = MeetingSession(
            id=new_session_id(),
            community=community.code,
            kind="emergency",
            status="scheduled",
            starts_at=utc(slot),
            place=community.hall.place,
            compound=qm.compound,
            capacity=OPEN_CAPACITY,
            created_at=planner.utcnow(),
        )
        uow.session.add(target)
        await uow.session.flush()
    target = await lock_session(uow, target.id)
    if await add_to_agenda(uow, target, qm):
        await emit_scheduled(uow, target)
    return target


async def lock_compound(uow: UnitOfWork, community: str, compound: str | None) -> None:
    """Serialise emergency planning per compound (PostgreSQL advisory xact lock; SQLite is serialised)."""
    bind = uow.session.bind
    if bind is None or bind.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already makes writers take turns
    key = f"meeting:emergency:{community}:{compound or '-'}"
    # Held until commit: a second replica waits here, then sees the first one's session.
    await uow.session.exec(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), params={"k": key})


async def schedule_fixed_day(
    uow: UnitOfWork, community: Community, qm: QueuedMatter, now: datetime
) -> MeetingSession | None:
    """Put a yellow or green matter on its hall's next fixed-day session if it has room; else it stays queued."""
    s = await lock_session(uow, (await fixed_day_session(uow, community, now, hall_of(community, qm))).id)
    count = (await uow.session.exec(select(func.count()).where(AgendaItem.session_id == s.id))).one()
    # A topic the convenor pinned always goes; otherwise only an agenda still proposed by the planner grows.
    if not qm.pinned and (s.agenda_set_at is not None or count >= s.capacity):
        return None
    if await add_to_agenda(uow, s, qm):
        await emit_scheduled(uow, s)
    return s


async def place(uow: UnitOfWork, community: Community, qm: QueuedMatter, now: datetime) -> MeetingSession | None:
    """Plan a queued matter by its level (a matter already on an open session is left where it is)."""
    current = await open_session_of(uow, qm)
    if current is not None:
        if current.kind != "fixed_day" or (qm.level != "red" and current.hall == hall_of(community, qm)):
            return current
        # Upgraded to red while waiting for the fixed day it moves to an emergency session now; moved to another
        # hall (staff, a referral up) it leaves this agenda for that hall's.
        current = await lock_session(uow, current.id)
        await remove_from_agenda(uow, current.id, qm.matter_id)
        await emit_scheduled(uow, current)
    qm.state, qm.session_id = "queued", None
    if qm.level == "red":
        return await schedule_emergency(uow, community, qm, now)
    return await schedule_fixed_day(uow, community, qm, now)


async def withdraw(uow: UnitOfWork, qm: QueuedMatter, *, state: str) -> None:
    """Take a matter out of planning (e.g. regraded to route direct), announcing a changed agenda."""
    current = await open_session_of(uow, qm)
    if current is not None:
        current = await lock_session(uow, current.id)
        await remove_from_agenda(uow, current.id, qm.matter_id)
        await emit_scheduled(uow, current)
    qm.state, qm.session_id, qm.updated_at = state, None, planner.utcnow()
    uow.session.add(qm)


def site_inspection_time(after: datetime) -> datetime:
    """09:30 on the next workday after `after` (Asia/Shanghai)."""
    day = workcal.next_workday(after.astimezone(domain.TZ).date(), include_self=False)
    return datetime.combine(day, SITE_TIME, tzinfo=domain.TZ)


def site_place(community: Community, qm: QueuedMatter) -> str:
    """Where an on-site inspection meets: "<小区名><楼栋>现场", e.g. 金泰和庄12号楼现场."""
    compound = community.compound(qm.compound) if qm.compound else None
    where = compound.name if compound else community.name
    if compound is not None and qm.building:
        b = compound.building(qm.building)
        where += b.name if b else f"{qm.building}号楼"
    return f"{where}现场"[:200]


async def schedule_site_inspection(
    uow: UnitOfWork,
    community: Community,
    qm: QueuedMatter,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    place: str | None = None,
) -> MeetingSession:
    """Put a matter on an on-site inspection (现场勘察) at its building, by default next workday 09:30."""
    when = utc(starts_at or site_inspection_time(now))
    place_name = place or site_place(community, qm)
    q = select(MeetingSession).where(
        MeetingSession.community == community.code,
        MeetingSession.kind == "site_inspection",
        MeetingSession.status == "scheduled",
        MeetingSession.starts_at == when,
        MeetingSession.place == place_name,
        MeetingSession.compound == qm.compound if qm.compound else MeetingSession.compound.is_(None),
    )
    s = (await uow.session.exec(q)).first()
    if s is None:
        s = MeetingSession(
            id=new_session_id(),
            community=community.code,
            kind="site_inspection",
            status="scheduled",
            starts_at=when,
            place=place_name[:200],
            compound=qm.compound,
            capacity=OPEN_CAPACITY,
            created_at=planner.utcnow(),
        )
        uow.session.add(s)
        await uow.session.flush()
    s = await lock_session(uow, s.id)
    qm.state, qm.session_id = "queued", None
    if await add_to_agenda(uow, s, qm):
        await emit_scheduled(uow, s)
    return s


# --- the periodic planner --------------------------------------------------------------------------


def _candidate(qm: QueuedMatter) -> domain.AgendaCandidate:
    return domain.AgendaCandidate(
        matter_id=qm.matter_id,
        level=qm.level,
        queued_at=aware(qm.queued_at),
        households=qm.households,
        carried_over=qm.carried_over,
    )


async def queued_matters(uow: UnitOfWork, community: str) -> list[QueuedMatter]:
    """A community's matters waiting for a session."""
    q = select(QueuedMatter).where(QueuedMatter.community == community, QueuedMatter.state == "queued")
    return list((await uow.session.exec(q.execution_options(populate_existing=True))).all())


def in_agenda_order(rows: list[QueuedMatter], now: datetime) -> list[QueuedMatter]:
    """Queued matters in the order the planner takes them: pinned topics first, then the agenda rule."""
    by_id = {r.matter_id: r for r in rows}
    taken, rolled = domain.plan_agenda([_candidate(r) for r in rows], len(rows), now)
    ordered = [by_id[c.matter_id] for c in [*taken, *rolled]]
    return [r for r in ordered if r.pinned] + [r for r in ordered if not r.pinned]


async def plan_community(uow: UnitOfWork, community: Community, now: datetime) -> int:
    """Plan one community's queue onto each hall's fixed day (the community's, compounds'); return how many."""
    placed = 0
    waiting = await queued_matters(uow, community.code)
    for qm in [r for r in waiting if r.level == "red"]:
        await schedule_emergency(uow, community, qm, now)
        placed += 1
    halls = sorted({hall_of(community, r) for r in waiting if r.level != "red"})
    for hall in halls:
        placed += await _plan_hall(uow, community, hall, now)
    return placed


async def _plan_hall(uow: UnitOfWork, community: Community, hall: str, now: datetime) -> int:
    """One hall's agenda proposal: pinned topics first, then the agenda rule up to its topic count."""
    placed = 0
    s = await lock_session(uow, (await fixed_day_session(uow, community, now, hall)).id)
    # Re-read under the lock: a concurrent planner may have placed some of them meanwhile.
    rest = [r for r in await queued_matters(uow, community.code) if r.level != "red" and hall_of(community, r) == hall]
    changed = False
    # The convenor's pinned topics (本月议题) go first, whatever the room and whoever set the agenda.
    for qm in in_agenda_order([r for r in rest if r.pinned], now):
        if await add_to_agenda(uow, s, qm):
            changed, placed = True, placed + 1
    if s.agenda_set_at is None:
        count = (await uow.session.exec(select(func.count()).where(AgendaItem.session_id == s.id))).one()
        free = [r for r in rest if not r.pinned]
        taken, _rolled = domain.plan_agenda([_candidate(r) for r in free], max(s.capacity - count, 0), now)
        by_id = {r.matter_id: r for r in free}
        for c in taken:
            if await add_to_agenda(uow, s, by_id[c.matter_id]):
                changed, placed = True, placed + 1
    if changed:
        await emit_scheduled(uow, s)
    return placed


UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def each_community(uow_factory: UowFactory, work: Callable, now: datetime | None, job: str) -> int:
    """A periodic job over every community, one transaction each; one community failing never stops the rest."""
    now = now or planner.utcnow()
    total = 0
    for community in load_directory().communities:
        try:
            async with uow_factory() as uow:
                total += await work(uow, community, now)
                await uow.commit()
        except Exception:
            log.exception("%s.failed community=%s", job, community.code)
    return total


async def plan_all(uow_factory: UowFactory, now: datetime | None = None) -> int:
    """The periodic planner: every community's queue onto its sessions, one transaction per community."""
    return await each_community(uow_factory, plan_community, now, "planner")


async def carry_over(uow: UnitOfWork, s: MeetingSession) -> None:
    """A fixed-day session was held without them: every matter of its hall waiting since before it ages one step."""
    q = select(QueuedMatter).where(
        QueuedMatter.community == s.community,
        QueuedMatter.state == "queued",
        QueuedMatter.level != "red",
        QueuedMatter.queued_at < s.starts_at,
    )
    community = load_directory().community(s.community)
    for qm in (await uow.session.exec(q)).all():
        if community is not None and hall_of(community, qm) != s.hall:
            continue  # another hall's session is still to come for it
        qm.carried_over += 1
        qm.updated_at = planner.utcnow()
        uow.session.add(qm)


async def requeue(uow: UnitOfWork, matter_ids: list[str], *, carry: bool) -> None:
    """Put matters back in the queue (a cancelled session's agenda; `carry`: an adjourned one's, counted)."""
    for mid in matter_ids:
        qm = await uow.session.get(QueuedMatter, mid)
        if qm is None:
            continue
        qm.state, qm.session_id, qm.updated_at = "queued", None, planner.utcnow()
        if carry:
            qm.carried_over += 1
        uow.session.add(qm)
