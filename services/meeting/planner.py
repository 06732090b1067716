"""Putting matters on sessions: emergency sessions for red, the monthly fixed day for yellow and green.

Shared by the event handlers, the HTTP routes and the periodic planner. Everything here runs inside
a caller's unit of work and never commits. Concurrent planners are safe: a fixed-day session is
unique per (community, kind, starts_at), agenda items per (session, matter), and a session row is
locked (FOR UPDATE on PostgreSQL; SQLite serialises writers) before its agenda is read and changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, time

from sqlalchemy import or_, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from services.contracts import events
from services.meeting import domain, notices, tiers
from services.meeting.models import UTC, AgendaChange, AgendaItem, MeetingSession, QueuedMatter, aware, utc
from services.runtime import workcal
from services.runtime.directory import PARTIES, Community, load_directory
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

PLANNER = "planner"  # actor of the automatic agenda proposal
OPEN_CAPACITY = 200  # emergency and site sessions are not capped (the event's agenda holds 200)
SITE_TIME = time(9, 30)


def utcnow() -> datetime:
    """The current time (a function so tests can move the clock)."""
    return datetime.now(UTC)


def new_session_id() -> str:
    """A fresh session id."""
    return f"ses_{uuid.uuid4().hex[:20]}"


def rule_of(community: Community, hall: str = tiers.COMMUNITY) -> domain.FixedDayRule:
    """The fixed deliberation day rule of the community's hall, or of a compound's meeting (default: the hall's)."""
    compound = _compound_hall(community, hall)
    if compound is not None and compound.fixed_day:
        return domain.FixedDayRule.parse(compound.fixed_day)
    return domain.FixedDayRule.parse(community.hall.fixed_day)


def _compound_hall(community: Community, hall: str):
    """A compound's own meeting (小区议事会) by the compound's code; None for the community hall."""
    if hall == tiers.COMMUNITY:
        return None
    found = community.compound(hall)
    return found.hall if found is not None else None


def hall_of(community: Community, qm: QueuedMatter) -> str:
    """Which hall deliberates a queued matter: "community" or its compound's code (tiers.choose_tier)."""
    return tiers.choose_tier(
        community,
        level=qm.level,
        compound=qm.compound,
        category=qm.category,
        households=qm.households,
        override=qm.tier_override,
    ).hall


def quorum_of(community: Community, hall: str) -> list[str]:
    """The parties a session of this hall needs present to decide."""
    compound = _compound_hall(community, hall)
    return list(compound.quorum) if compound is not None else list(community.hall.quorum)


# --- reading ---------------------------------------------------------------------------------------


async def agenda_ids(uow: UnitOfWork, session_id: str) -> list[str]:
    """The matter ids on a session's agenda, in order."""
    q = select(AgendaItem.matter_id).where(AgendaItem.session_id == session_id).order_by(AgendaItem.position)
    return list((await uow.session.exec(q)).all())


async def lock_session(uow: UnitOfWork, session_id: str) -> MeetingSession:
    """Re-read a session under a row lock, so its agenda is changed by one planner at a time."""
    q = (
        select(MeetingSession)
        .where(MeetingSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await uow.session.exec(q)).one()


def invitees_for(community: Community, categories: Iterable[str]) -> list[events.Invitee]:
    """The five parties' roster members, plus departments whose categories the agenda touches."""
    out: list[events.Invitee] = []
    for party in PARTIES:
        for m in community.roster.get(party, []):
            out.append(events.Invitee(party=party, name=m.name[:64], unit=(m.unit or None)))
    wanted = set(categories)
    for d in community.departments:
        if wanted & set(d.categories):
            out.append(events.Invitee(party="department", name=d.name[:64], unit=d.code))
    return out[:200]


def compound_invitees(community: Community, code: str) -> list[events.Invitee]:
    """A compound meeting: its own members (owners' committee, 楼栋长, property company) and the grid worker."""
    found = community.compound(code)
    hall = found.hall if found is not None else None
    out: list[events.Invitee] = []
    for m in community.grid_workers_of(code):
        out.append(events.Invitee(party="party_org", name=m.name[:64], unit=community.name))
    for party in PARTIES:
        for m in hall.members.get(party, []) if hall is not None else []:
            out.append(events.Invitee(party=party, name=m.name[:64], unit=(m.unit or None)))
    return out[:200]


# --- writing ---------------------------------------------------------------------------------------


async def emit_scheduled(
    uow: UnitOfWork, s: MeetingSession, *, status: str = "scheduled", agenda: list[str] | None = None
) -> None:
    """Refresh the invitees and announce the session with its full agenda."""
    ids = agenda if agenda is not None else await agenda_ids(uow, s.id)
    community = load_directory().community(s.community)
    if community is not None:
        cats = (await uow.session.exec(select(QueuedMatter.category).where(QueuedMatter.matter_id.in_(ids)))).all()
        people = invitees_for(community, cats) if s.hall == tiers.COMMUNITY else compound_invitees(community, s.hall)
        s.invitees = [i.model_dump() for i in people]
        uow.session.add(s)
    await uow.emit(
        "session.scheduled.v1",
        community=s.community,
        subject=s.id,
        data=events.SessionScheduled(
            session_id=s.id,
            kind=s.kind,
            status=status,
            starts_at=aware(s.starts_at),
            place=s.place,
            agenda=ids[:200],
            invitees=[events.Invitee.model_validate(i) for i in s.invitees],
            hall=s.hall,
            hall_name=hall_name(community, s.hall) if community is not None else None,
        ),
    )
    if community is not None and ids:
        kind = "invitation" if status == "scheduled" else ("cancelled" if status == "cancelled" else None)
        kind = kind or f"rescheduled.{s.sequence}"
        await notices.enqueue(uow, s, kind, community, now=utcnow())


async def _insert_session(uow: UnitOfWork, s: MeetingSession) -> MeetingSession | None:
    """Insert a session; None when a concurrent planner already created the same fixed-day session."""
    try:
        async with uow.session.begin_nested():
            uow.session.add(s)
    except IntegrityError:
        return None
    return s


def hall_name(community: Community, hall: str) -> str:
    """The hall in words: 社区议事厅, or 景湖花园小区议事会."""
    if hall == tiers.COMMUNITY:
        return f"{community.name}五方议事厅"
    found = community.compound(hall)
    return f"{found.name if found else hall}{tiers.TIER_ZH[tiers.COMPOUND]}"


async def _fixed_day_at(
    uow: UnitOfWork, community: str, starts_at: datetime, hall: str = tiers.COMMUNITY
) -> MeetingSession | None:
    # A rescheduled fixed-day session still stands for its fixed day (slot_at); rows from before
    # slot_at existed are found by their start.
    when = utc(starts_at)
    q = select(MeetingSession).where(
        MeetingSession.community == community,
        MeetingSession.hall == hall,
        MeetingSession.kind == "fixed_day",
        or_(MeetingSession.slot_at == when, (MeetingSession.slot_at.is_(None)) & (MeetingSession.starts_at == when)),
    )
    return (await uow.session.exec(q)).first()


async def fixed_day_session(
    uow: UnitOfWork, community: Community, now: datetime, hall: str = tiers.COMMUNITY
) -> MeetingSession:
    """The next scheduled fixed-day session of a hall, created on demand (one per hall and fixed day)."""
    rule = rule_of(community, hall)
    compound = _compound_hall(community, hall)
    where = compound.place if compound is not None else community.hall.place
    room = compound.topics_per_session if compound is not None else community.hall.topics_per_session
    when = domain.next_fixed_day(rule, now)
    for _ in range(24):
        found = await _fixed_day_at(uow, community.code, when, hall)
        if found is None:
            s = MeetingSession(
                id=new_session_id(),
                community=community.code,
                kind="fixed_day",
                status="scheduled",
                starts_at=utc(when),
                slot_at=utc(when),
                place=where,
                capacity=room,
                created_at=utcnow(),
                hall=hall,
                compound=None if compound is None else hall,
            )
            found = await _insert_session(uow, s) or await _fixed_day_at(uow, community.code, when, hall)
            if found is None:  # pragma: no cover - the conflicting row must be visible after the conflict
                raise RuntimeError("fixed-day session conflict without a visible row")
        if found.status == "scheduled":
            return found
        # That day's session was cancelled or already held: the next fixed day is the one to plan for.
        when = domain.next_fixed_day(rule, when)
    raise RuntimeError("no schedulable fixed day within two years")  # pragma: no cover


async def record(
    uow: UnitOfWork,
    s: MeetingSession,
    action: str,
    matter_id: str,
    *,
    actor: str = PLANNER,
    from_position: int | None = None,
    to_position: int | None = None,
    reason: str | None = None,
) -> None:
    """Append one agenda change (who, when, what) to the session's agenda history."""
    uow.session.add(
        AgendaChange(
            session_id=s.id,
            community=s.community,
            at=utcnow(),
            actor=actor[:128],
            action=action,
            matter_id=matter_id,
            from_position=from_position,
            to_position=to_position,
            reason=reason[:500] if reason else None,
        )
    )


async def add_to_agenda(
    uow: UnitOfWork, s: MeetingSession, qm: QueuedMatter, *, actor: str = PLANNER, position: int | None = None
) -> bool:
    """Put a matter on a locked session's agenda (at the end, or at `position`); False when it is there."""
    exists = await uow.session.exec(
        select(AgendaItem.id).where(AgendaItem.session_id == s.id, AgendaItem.matter_id == qm.matter_id)
    )
    if exists.first() is not None:
        return False
    top = (await uow.session.exec(select(func.max(AgendaItem.position)).where(AgendaItem.session_id == s.id))).one()
    at = (top or 0) + 1 if position is None else max(1, min(position, (top or 0) + 1))
    if at <= (top or 0):
        later = await uow.session.exec(
            select(AgendaItem).where(AgendaItem.session_id == s.id, AgendaItem.position >= at)
        )
        for other in later.all():
            other.position += 1
            uow.session.add(other)
    item = AgendaItem(session_id=s.id, matter_id=qm.matter_id, position=at, added_by=actor[:128])
    try:
        async with uow.session.begin_nested():
            uow.session.add(item)
    except IntegrityError:
        return False
    qm.state, qm.session_id, qm.updated_at = "scheduled", s.id, utcnow()
    uow.session.add(qm)
    action = "propose" if actor == PLANNER else "add"
    await record(uow, s, action, qm.matter_id, actor=actor, to_position=item.position)
    return True


async def remove_from_agenda(
    uow: UnitOfWork,
    session_id: str,
    matter_id: str,
    *,
    actor: str = PLANNER,
    action: str = "withdraw",
    reason: str | None = None,
) -> None:
    """Take a matter off an agenda, renumber the rest and record who did it."""
    items = (
        await uow.session.exec(
            select(AgendaItem).where(AgendaItem.session_id == session_id).order_by(AgendaItem.position)
        )
    ).all()
    pos, removed_at = 0, None
    for item in items:
        if item.matter_id == matter_id:
            removed_at = item.position
            await uow.session.delete(item)
            continue
        pos += 1
        item.position = pos
        uow.session.add(item)
    await uow.session.flush()
    s = await uow.session.get(MeetingSession, session_id)
    if removed_at is not None and s is not None:
        await record(uow, s, action, matter_id, actor=actor, from_position=removed_at, reason=reason)


async def open_session_of(uow: UnitOfWork, qm: QueuedMatter) -> MeetingSession | None:
    """The not-yet-concluded session a matter is scheduled in, if any."""
    if qm.state != "scheduled" or not qm.session_id:
        return None
    s = await uow.session.get(MeetingSession, qm.session_id)
    return s if s is not None and s.status == "scheduled" else None


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
            created_at=utcnow(),
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
    qm.state, qm.session_id, qm.updated_at = state, None, utcnow()
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
            created_at=utcnow(),
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


async def plan_all(uow_factory: UowFactory, now: datetime | None = None) -> int:
    """The periodic planner: every community's queue onto its sessions, one transaction per community."""
    now = now or utcnow()
    total = 0
    for community in load_directory().communities:
        try:
            async with uow_factory() as uow:
                total += await plan_community(uow, community, now)
                await uow.commit()
        except Exception:
            log.exception("planner.failed community=%s", community.code)
    return total


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
        qm.updated_at = utcnow()
        uow.session.add(qm)
