"""Putting matters on sessions: emergency sessions for red, the monthly fixed day for yellow and green.

Shared by the event handlers, the HTTP routes and the periodic planner. Everything here runs inside
a caller's unit of work and never commits. Concurrent planners are safe: a fixed-day session is
unique per (community, kind, starts_at), agenda items per (session, matter), and a session row is
locked (FOR UPDATE on PostgreSQL; SQLite serialises writers) before its agenda is read and changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, time

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from services.contracts import events
from services.meeting import domain, notices, tiers
from services.meeting.models import UTC, AgendaChange, AgendaItem, MeetingSession, QueuedMatter, aware, utc
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


def hall_name_en(community: Community, hall: str) -> str:
    """The hall in English words: "学苑社区 five-party hall", "景湖花园 compound meeting" (directory names)."""
    if hall == tiers.COMMUNITY:
        return f"{community.name} five-party hall"
    found = community.compound(hall)
    return f"{found.name} compound meeting" if found is not None else "Compound meeting"


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
