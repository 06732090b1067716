"""Meeting's event handlers: graded matters join the queue and are planned onto sessions at once."""

from __future__ import annotations

import datetime as dt
import functools

from services.contracts import Envelope, events
from services.meeting import closures, planner, service
from services.meeting.models import QueuedMatter, aware, utc
from services.runtime.consumer import Reject
from services.runtime.directory import Community, load_directory
from services.runtime.tables import upsert
from services.runtime.uow import UnitOfWork

# Titles for matters whose triage event never reached meeting (a person never reads an id).
REOPENED_UNKNOWN_TITLE = "居民评价不满意的事项（复议）"
UNTITLED = "事项（标题待补）"


def _community(env: Envelope) -> Community:
    community = load_directory().community(env.community)
    if community is None or community.code != env.community:
        raise Reject(f"unknown community {env.community!r}")
    return community


async def _existing(uow: UnitOfWork, env: Envelope, matter_id: str) -> QueuedMatter | None:
    qm = await uow.session.get(QueuedMatter, matter_id)
    if qm is not None and qm.community != env.community:
        raise Reject(f"event claims community {env.community!r} for a matter of another community")
    return qm


def _compound(community: Community, place: events.Place | None) -> str | None:
    if place is None or not place.compound:
        return None
    found = community.compound(place.compound)
    return found.code if found else place.compound


def _new_row(
    community: Community,
    *,
    matter_id: str,
    level: str,
    route: str,
    category: str,
    at: dt.datetime,
    title: str | None,
    compound: str | None,
    building: str | None,
    households: int | None,
    seq: int,
    now: dt.datetime,
) -> dict:
    """The columns a first grade gives a matter (the ORM path and the Core insert share them)."""
    # A direct matter (一般性问题立即解决) is not deliberated, but is kept (state "direct") with its grade and
    # title: if residents reopen it, or it is regraded to deliberate, it comes to a session under its title.
    return {
        "matter_id": matter_id,
        "community": community.code,
        "compound": compound,
        "building": building,
        "category": category,
        "level": level,
        "route": route,
        "title": title or UNTITLED,
        "households": households or 1,
        "queued_at": utc(at),
        "state": "queued" if route == "deliberate" else "direct",
        "grade_seq": seq,
        "updated_at": now,
    }


@functools.cache
def _defaults() -> dict:
    """The model's defaults of the columns a first grade leaves alone (carried_over, round, pinned …)."""
    fields = QueuedMatter.model_fields
    columns = (c.key for c in QueuedMatter.__table__.columns)
    return {k: fields[k].get_default(call_default_factory=True) for k in columns if not fields[k].is_required()}


@functools.cache
def _direct_statement(dialect: str):
    """A new direct matter's row, a no-op if the matter is known: built once per dialect (issue 23)."""
    return upsert(QueuedMatter.__table__, dialect).on_conflict_do_nothing(index_elements=["matter_id"])


async def _insert_direct(uow: UnitOfWork, row: dict) -> bool:
    """Store a first grade of a direct matter with one Core statement; False if the matter is known already.

    The ORM's get, construct and flush of a row nothing else touches in this transaction were most of meeting's
    grade handler in the saturated pipeline (issue 23). A known matter (another community's included) takes
    the ORM path as before, which checks the community, drops a stale grade and applies a regrade.
    """
    params = _defaults() | row
    return (await uow.session.exec(_direct_statement(uow.dialect), params=params)).rowcount == 1


async def _on_grade(
    uow: UnitOfWork,
    env: Envelope,
    *,
    matter_id: str,
    level: str,
    route: str,
    category: str,
    at: dt.datetime,
    title: str | None = None,
    compound: str | None = None,
    building: str | None = None,
    households: int | None = None,
    first: bool = False,
) -> None:
    """Apply a grade; `first`: most likely the matter's first (a triage event), so a direct one is inserted."""
    community = _community(env)
    seq = env.sequence or 0
    now = planner.utcnow()
    row = _new_row(
        community,
        matter_id=matter_id,
        level=level,
        route=route,
        category=category,
        at=at,
        title=title,
        compound=compound,
        building=building,
        households=households,
        seq=seq,
        now=now,
    )
    if first and route != "deliberate" and await _insert_direct(uow, row):
        return
    qm = await _existing(uow, env, matter_id)
    if qm is not None and seq and seq <= qm.grade_seq:
        return  # stale or repeated grade: a newer one was applied already
    if qm is None:
        qm = QueuedMatter(**row)
        uow.session.add(qm)
    else:
        qm.level, qm.route, qm.category = level, route, category
        if title:
            qm.title = title
        if compound:
            qm.compound = compound
        if building:
            qm.building = building
        if households:
            qm.households = households
        qm.updated_at = now
    qm.grade_seq = max(qm.grade_seq, seq)
    uow.session.add(qm)
    if qm.state in ("resolved", "closed"):
        return  # already deliberated or withdrawn; a reopen (not a regrade) brings it back
    if qm.state == "direct":
        if route != "deliberate":
            return
        qm.state, qm.queued_at = "queued", utc(at)  # regraded to deliberate: it joins the queue now
    if route != "deliberate":
        await service.withdraw(uow, qm, state="closed")
        return
    await uow.session.flush()
    await service.place(uow, community, qm, now)


async def on_matter_triaged(uow: UnitOfWork, env: Envelope, data: events.MatterTriaged) -> None:
    """A new or grown matter: deliberate-route matters are queued and planned by level."""
    community = _community(env)
    await _on_grade(
        uow,
        env,
        matter_id=data.matter_id,
        level=data.level,
        route=data.route,
        category=data.category,
        at=data.triaged_at,
        title=data.title,
        compound=_compound(community, data.place),
        building=(data.place.building or None) if data.place else None,
        households=data.households,
        first=True,
    )


async def on_matter_regraded(uow: UnitOfWork, env: Envelope, data: events.MatterRegraded) -> None:
    """A regraded matter: a new level may move it (red -> emergency), route direct withdraws it."""
    await _on_grade(
        uow,
        env,
        matter_id=data.matter_id,
        level=data.level,
        route=data.route,
        category=data.category,
        at=data.regraded_at,
    )


async def on_matter_reopened(uow: UnitOfWork, env: Envelope, data: events.MatterReopened) -> None:
    """Residents were not satisfied: the matter returns to the queue for its new round and is planned."""
    community = _community(env)
    qm = await _existing(uow, env, data.matter_id)
    now = planner.utcnow()
    if qm is None:
        # Never deliberated before (it was handled directly): it is deliberated now.
        qm = QueuedMatter(
            matter_id=data.matter_id,
            community=community.code,
            category="other",
            level="yellow",
            route="deliberate",
            title=REOPENED_UNKNOWN_TITLE,
            queued_at=utc(data.reopened_at),
            round=data.round,
            updated_at=now,
        )
        uow.session.add(qm)
        await uow.session.flush()
    elif data.round <= qm.round:
        return  # this round was already taken back into the queue
    else:
        current = await planner.open_session_of(uow, qm)
        qm.round, qm.route, qm.updated_at = data.round, "deliberate", now
        if current is None:
            qm.state, qm.session_id, qm.queued_at = "queued", None, utc(data.reopened_at)
        uow.session.add(qm)
    await service.place(uow, community, qm, now)


async def on_matter_closed(uow: UnitOfWork, env: Envelope, data: events.MatterClosed) -> None:
    """A crossed-off matter (销号) leaves the waiting queue and the agendas of sessions not yet held."""
    community = _community(env)
    qm = await _existing(uow, env, data.matter_id)
    if qm is None:
        return  # never deliberated here (fixed at once): nothing planned to undo
    if qm.round > 1 and utc(data.closed_at) < aware(qm.queued_at):
        return  # a late copy of an earlier round's close: the matter was reopened after it
    await closures.drop_closed(uow, community, qm, by=data.by, at=data.closed_at)


async def on_matter_merged(uow: UnitOfWork, env: Envelope, data: events.MatterMerged) -> None:
    """A matter merged into another (合并) leaves the queue and the agendas not yet held; the survivor is planned."""
    community = _community(env)
    qm = await _existing(uow, env, data.matter_id)
    if qm is None or qm.state == "closed":
        return  # never deliberated here, or already gone
    await closures.drop_closed(uow, community, qm, by=data.by, at=data.merged_at, merged=True)
