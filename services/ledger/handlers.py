"""The ledger's event handlers, and the entry operations they share with the HTTP API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re

from sqlalchemy import bindparam
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import Envelope, events
from services.contracts import measures as fixed_measures
from services.ledger import alerts, commitments, handover, notes
from services.ledger.config import deadline_policy
from services.ledger.domain import DONE_STATES, TZ, deadline_for, first_action_due  # noqa: F401 - TZ: callers take it here
from services.ledger.models import Entry, EvaluationView, MatterView
from services.ledger.oncall import on_duty
from services.ledger.routing import route_direct
from services.ledger.service import (
    SYSTEM,
    append,
    apply,
    clean,
    emit_entry,
    new_entry,
    note_only,
    supporting_of,
    sync_supporting,
    utcnow,
    write_new,
)
from services.runtime.consumer import Reject
from services.runtime.directory import load_directory
from services.runtime.privacy import scrub_text
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

DIRECT_MEASURES = fixed_measures.DIRECT
RED_MEASURES = fixed_measures.RED
SUPERVISED_MEASURES = fixed_measures.SUPERVISED
ACTIVE_STATES = frozenset({"assigned", "claimed", "in_progress", "escalated"})
OUTCOME_ZH = notes.SESSION_OUTCOME_ZH


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def clock(uow: UnitOfWork) -> dt.datetime:
    """When the cause happened: the consumed event's time, else now (deadlines replay identically)."""
    return _aware(uow.cause.time) if uow.cause is not None else utcnow()


# --- entries of events --------------------------------------------------------------------------


@functools.cache
def _entry_by_matter():
    """Built once, run with a parameter (issue 23: building it was about a third of the lookup)."""
    return select(Entry).where(Entry.matter_id == bindparam("p_matter")).with_for_update()


async def entry_of(session: AsyncSession, env: Envelope, matter_id: str) -> Entry | None:
    """The entry of a matter, tenant-checked against the event (Reject on mismatch)."""
    entry = (await session.exec(_entry_by_matter(), params={"p_matter": matter_id})).first()
    if entry is not None and entry.community != env.community:
        raise Reject(f"event claims community {env.community!r} for an entry of another community")
    return entry


async def _view_of(session: AsyncSession, env: Envelope, matter_id: str) -> MatterView | None:
    view = await session.get(MatterView, matter_id)
    if view is not None and view.community != env.community:
        raise Reject(f"event claims community {env.community!r} for a matter of another community")
    return view


async def _order_deadline(s: AsyncSession, entry: Entry, view: MatterView | None = None) -> str:
    """Cap the first round's deadline by the 12345 order's 承办时限 (the earlier wins); a note saying so, or ''.

    `view`: the entry's matter view when the caller holds it. A view just added is not in the identity map
    until flushed, so `get` would flush the whole session and query for it (issue 23: a sixth of the ledger's time).
    """
    view = view if view is not None and view.matter_id == entry.matter_id else await s.get(MatterView, entry.matter_id)
    if view is None or view.due_by is None or entry.round != 1 or entry.state in DONE_STATES:
        return ""
    due = _aware(view.due_by)
    if entry.deadline is not None and _aware(entry.deadline) <= due:
        return ""
    entry.deadline, entry.overdue = due, False
    return notes.order_deadline(due)


async def _assign_direct(
    uow: UnitOfWork, entry: Entry, *, note: str, event_id: str | None, measures: str, view: MatterView | None = None
) -> None:
    """Assign an entry at once to the unit its category goes to (一般性问题立即解决); tell an outside unit."""
    entry.measures = clean(measures)
    routed = None
    if entry.lead_party is None:
        community = load_directory().community(entry.community)
        if community is not None:
            routed = route_direct(community, entry.category, entry.compound)
            entry.lead_party, entry.lead_unit = routed.lead_party, routed.lead_unit or entry.lead_unit
            note = notes.assigned_direct(note, routed.lead_unit, routed.why)
    entry.deadline = deadline_for(entry.level, clock(uow), deadline_policy())
    entry.overdue = False
    note += await _order_deadline(uow.session, entry, view)
    apply(uow.session, entry, "assign", actor=SYSTEM, note=note, event_id=event_id)
    await emit_entry(uow, "entry.assigned.v1", entry, actor=SYSTEM, note=note)
    if routed is not None and routed.lead_party in ("department", "partner_unit") and routed.lead_unit:
        await handover.notify_unit(uow, entry, routed.lead_unit, kind="assigned", note=measures, now=clock(uow))


def _first_action_policy():
    """The deadline policy with the county's first-action hours when the directory sets them."""
    hours = load_directory().county.emergency.first_action_hours
    policy = deadline_policy()
    return dataclasses.replace(policy, red_first_action_hours=hours) if hours else policy


async def _assign_red(uow: UnitOfWork, entry: Entry, *, event_id: str | None, note: str) -> None:
    """A red matter is handled at once: the on-call lead unit, a first-action clock and a paged alert."""
    now = clock(uow)
    community = load_directory().community(entry.community)
    if community is not None:
        duty = on_duty(community, now, entry.compound)
        entry.lead_party, entry.lead_unit = duty.lead_party, duty.lead_unit or entry.lead_unit
    entry.measures = entry.measures or RED_MEASURES
    entry.deadline = deadline_for("red", now, deadline_policy())
    entry.first_action_due = first_action_due("red", now, _first_action_policy())
    entry.overdue = False
    note = notes.assigned_red(note, entry.lead_unit)
    if entry.state in ("registered", "reopened"):
        apply(uow.session, entry, "assign", actor=SYSTEM, note=note, event_id=event_id)
    else:
        note_only(uow.session, entry, note, actor=SYSTEM, event_id=event_id)
    await emit_entry(uow, "entry.assigned.v1", entry, actor=SYSTEM, note=note)
    await alerts.open_alert(uow, entry, now)


# --- matter read model --------------------------------------------------------------------------


async def _grade_view(s, env: Envelope, matter_id: str, data, at, seq_attr: str) -> tuple[MatterView | None, bool]:
    """Apply a grade event to the matter view: (view, grade applied), or (None, False) for a stale event.

    Sequences are per event type (triaged and regraded count separately), so the grade time decides which
    grade wins between the two types.
    """
    seq, now = env.sequence or 0, utcnow()
    view = await _view_of(s, env, matter_id)
    if view is None:
        view = MatterView(
            matter_id=matter_id,
            community=env.community,
            category=data.category,
            level=data.level,
            route=data.route,
            graded_at=at,
            updated_at=now,
            **{seq_attr: seq},
        )
        return view, True
    if seq and seq <= getattr(view, seq_attr):
        log.info("ledger.stale_event type=%s matter=%s seq=%s", env.type, matter_id, seq)
        return None, False
    setattr(view, seq_attr, max(seq, getattr(view, seq_attr)))
    newer = view.graded_at is None or at >= _aware(view.graded_at)
    if newer:
        view.category, view.level, view.route, view.graded_at = data.category, data.level, data.route, at
    view.updated_at = now
    return view, newer


async def on_matter_triaged(uow: UnitOfWork, env: Envelope, data: events.MatterTriaged) -> None:
    """Keep the matter view; a direct matter gets an entry assigned at once to the property company."""
    s = uow.session
    entry = await entry_of(s, env, data.matter_id)
    view, _ = await _grade_view(s, env, data.matter_id, data, _aware(data.triaged_at), "triaged_seq")
    if view is None:
        return
    view.compound, view.building = data.place.compound, data.place.building
    view.title, view.households = data.title[:500], data.households
    if data.due_by is not None:
        view.due_by = min(_aware(view.due_by), _aware(data.due_by)) if view.due_by else _aware(data.due_by)
    s.add(view)
    if entry is not None:
        if entry.state in ACTIVE_STATES and (earlier := await _order_deadline(s, entry, view)):
            note_only(s, entry, notes.order_earlier(earlier), actor=SYSTEM, event_id=env.id)
        if data.households > entry.households:
            note = notes.more_households(data.households)
            note_only(s, entry, note, actor=f"matter:{data.matter_id}", event_id=env.id)
        entry.households = max(entry.households, data.households)
        entry.compound = entry.compound or view.compound
        entry.building = entry.building or view.building
        entry.title = entry.title or view.title
        s.add(entry)
        return
    if view.level == "red":
        entry = new_entry(s, view, actor=SYSTEM, event_id=env.id)
        await _assign_red(uow, entry, event_id=env.id, note="红色事项立即交办值班责任单位")
    elif view.route == "direct":
        entry = new_entry(s, view, actor=SYSTEM, event_id=env.id)
        await _assign_direct(uow, entry, note="按类别直接交办", event_id=env.id, measures=DIRECT_MEASURES, view=view)
    await write_new(s, view, entry)


async def on_matter_foreseen(uow: UnitOfWork, env: Envelope, data: events.MatterForeseen) -> None:
    """未诉先办: know the topic the convenor made of a recurring problem, so its session's decision opens an entry."""
    s = uow.session
    if await _view_of(s, env, data.matter_id) is not None:
        return  # a redelivery
    s.add(
        MatterView(
            matter_id=data.matter_id,
            community=env.community,
            compound=data.place.compound,
            building=data.place.building,
            category=data.category,
            level=data.level,
            route="deliberate",
            title=clean(data.title)[:500],
            graded_at=_aware(data.accepted_at),
            updated_at=utcnow(),
        )
    )


async def on_matter_regraded(uow: UnitOfWork, env: Envelope, data: events.MatterRegraded) -> None:
    """Update the matter view and the entry's grade; a matter regraded to direct is assigned at once."""
    s = uow.session
    entry = await entry_of(s, env, data.matter_id)
    view, applied = await _grade_view(s, env, data.matter_id, data, _aware(data.regraded_at), "regraded_seq")
    if view is None or not applied:
        return  # stale, or an older grade than the one we hold
    s.add(view)
    if entry is None:
        if view.level == "red":
            entry = new_entry(s, view, actor=SYSTEM, event_id=env.id)
            await _assign_red(uow, entry, event_id=env.id, note="改为红色，立即交办值班责任单位")
        elif view.route == "direct":
            entry = new_entry(s, view, actor=SYSTEM, event_id=env.id)
            await _assign_direct(uow, entry, note="改为直接交办", event_id=env.id, measures=DIRECT_MEASURES, view=view)
        return
    if entry.state == "closed" or (entry.level == view.level and entry.category == view.category):
        return
    note = notes.regraded(data.previous.level, data.level, data.reason)
    raised_to_red = view.level == "red" and entry.level != "red"
    entry.level, entry.category, entry.updated_at = view.level, view.category, utcnow()
    append(s, entry, actor=data.by or SYSTEM, action="regrade", from_state=entry.state, note=note, event_id=env.id)
    if raised_to_red and entry.state not in DONE_STATES:
        await _assign_red(uow, entry, event_id=env.id, note="升为红色，立即交办值班责任单位")


# --- sessions ----------------------------------------------------------------------------------


async def on_session_scheduled(uow: UnitOfWork, env: Envelope, data: events.SessionScheduled) -> None:
    """Note on the timeline of existing entries that their matter is on a session's agenda."""
    hall = data.hall_name if data.hall_name and data.hall not in (None, "community") else None
    for matter_id in dict.fromkeys(data.agenda):
        entry = await entry_of(uow.session, env, matter_id)
        if entry is not None:
            note = notes.session_scheduled(data.status, hall, _aware(data.starts_at), data.place)
            note_only(uow.session, entry, note, actor=f"session:{data.session_id}", event_id=env.id)


async def on_session_concluded(uow: UnitOfWork, env: Envelope, data: events.SessionConcluded) -> None:
    """Turn each resolution into ledger work: assign, escalate, or note."""
    actor = f"session:{data.session_id}"
    for res in data.resolutions:
        entry = await entry_of(uow.session, env, res.matter_id)
        if res.outcome == "resolved":
            await _resolve(uow, env, res, entry, actor)
        elif res.outcome == "escalate":
            await _escalate(uow, env, res, entry, actor)
        elif entry is not None:
            note = notes.session_outcome(res.outcome, res.reason)
            note_only(uow.session, entry, note, actor=actor, event_id=env.id)
        if res.commitments:
            entry = await entry_of(uow.session, env, res.matter_id)
            if entry is not None:
                await commitments.record(uow, env, entry, res, actor)
            else:  # pragma: no cover - meeting only takes promises for outcomes that open an entry
                log.warning("ledger.commitments_without_entry matter=%s", res.matter_id)


async def _entry_for_resolution(uow: UnitOfWork, env: Envelope, res: events.Resolution, entry: Entry | None) -> Entry:
    if entry is not None:
        return entry
    view = await _view_of(uow.session, env, res.matter_id)
    if view is None:
        # Probably the matter.triaged event is still on its way: fail so the consumer retries later.
        raise LookupError(f"matter {res.matter_id} is not known to the ledger yet")
    return new_entry(uow.session, view, actor=f"session:{env.subject or ''}", event_id=env.id)


def _take_resolution(entry: Entry, res: events.Resolution, start: dt.datetime) -> None:
    entry.measures = clean(res.measures) or entry.measures or fixed_measures.BY_SESSION
    entry.lead_party = res.lead_party or entry.lead_party
    entry.lead_unit = res.lead_unit or entry.lead_unit
    entry.supporting_units = list(res.supporting_units) or entry.supporting_units
    entry.deadline = _aware(res.deadline) if res.deadline else deadline_for(entry.level, start, deadline_policy())
    entry.overdue = False


async def _resolve(uow: UnitOfWork, env: Envelope, res: events.Resolution, entry: Entry | None, actor: str) -> None:
    if entry is not None and entry.state in ACTIVE_STATES:
        await _adopt(uow, env, res, entry, actor)
        return
    if entry is not None and entry.state not in ("registered", "reopened"):
        note_only(uow.session, entry, notes.RESOLVED_BUT_DONE, actor=actor, event_id=env.id)
        return
    entry = await _entry_for_resolution(uow, env, res, entry)
    _take_resolution(entry, res, clock(uow))
    note = notes.session_resolved(entry.measures) + await _order_deadline(uow.session, entry)
    apply(uow.session, entry, "assign", actor=actor, note=note, event_id=env.id)
    sync_supporting(uow.session, entry, await supporting_of(uow.session, entry.id), actor=actor)
    await emit_entry(uow, "entry.assigned.v1", entry, actor=actor, note=note)


async def _adopt(uow: UnitOfWork, env: Envelope, res: events.Resolution, entry: Entry, actor: str) -> None:
    """An entry already being handled (e.g. a reopened direct matter) takes the session's decision over."""
    before = (entry.measures, entry.lead_party, entry.lead_unit, list(entry.supporting_units), entry.deadline)
    overdue = entry.overdue
    _take_resolution(entry, res, clock(uow))
    if res.deadline is None:
        entry.deadline = before[4] or entry.deadline  # keep the running clock unless the session set one
    if entry.deadline == before[4]:
        entry.overdue = overdue
    if (entry.measures, entry.lead_party, entry.lead_unit, list(entry.supporting_units), entry.deadline) == before:
        return  # the same decision again: nothing to record
    entry.updated_at = utcnow()
    note = notes.session_readopted(entry.measures)
    append(uow.session, entry, actor=actor, action="resolve", from_state=entry.state, note=note, event_id=env.id)
    sync_supporting(uow.session, entry, await supporting_of(uow.session, entry.id), actor=actor)
    await emit_entry(uow, "entry.assigned.v1", entry, actor=actor, note=note)


async def _escalate(uow: UnitOfWork, env: Envelope, res: events.Resolution, entry: Entry | None, actor: str) -> None:
    if entry is not None and entry.state not in ("registered", "reopened", "assigned", "claimed", "in_progress"):
        note_only(uow.session, entry, notes.ESCALATE_NOT_NOW, actor=actor, event_id=env.id)
        return
    entry = await _entry_for_resolution(uow, env, res, entry)
    department = res.department or res.lead_unit or "职能部门"
    if entry.state in ("registered", "reopened"):
        _take_resolution(entry, res, clock(uow))
        entry.measures = clean(res.measures or f"转办{department}")
        apply(uow.session, entry, "assign", actor=actor, note=notes.SESSION_ESCALATED, event_id=env.id)
        sync_supporting(uow.session, entry, await supporting_of(uow.session, entry.id), actor=actor)
    entry.escalated_to = department[:128]
    note = notes.handed_over(department, res.reason)
    apply(uow.session, entry, "escalate", actor=actor, note=note, event_id=env.id)
    await emit_entry(uow, "entry.escalated.v1", entry, actor=actor, note=note)
    await handover.notify_unit(uow, entry, entry.escalated_to, kind="handover", note=note, now=clock(uow))


# --- feedback ----------------------------------------------------------------------------------


RATING_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


async def _keep_evaluation(s: AsyncSession, env: Envelope, data: events.EvaluationRecorded) -> None:
    """Keep each household's latest rating per matter and round (for the satisfaction rate)."""
    q = select(EvaluationView).where(
        EvaluationView.matter_id == data.matter_id,
        EvaluationView.round == data.round,
        EvaluationView.household_ref == data.household_ref,
    )
    row = (await s.exec(q)).first()
    at = _aware(data.recorded_at)
    if row is None:
        s.add(
            EvaluationView(
                matter_id=data.matter_id,
                community=env.community,
                round=data.round,
                household_ref=data.household_ref,
                rating=data.rating,
                recorded_at=at,
            )
        )
    elif row.community != env.community:
        raise Reject(f"event claims community {env.community!r} for a matter of another community")
    elif at >= _aware(row.recorded_at):
        row.rating, row.recorded_at = data.rating, at
        s.add(row)


async def on_evaluation_recorded(uow: UnitOfWork, env: Envelope, data: events.EvaluationRecorded) -> None:
    """A round decided satisfied moves a completed entry to evaluated (and tells the others)."""
    entry = await entry_of(uow.session, env, data.matter_id)
    await _keep_evaluation(uow.session, env, data)
    if entry is not None:
        note_only(uow.session, entry, notes.round_rating(data.round, data.rating), actor=SYSTEM, event_id=env.id)
    if entry is None or data.round_outcome != "satisfied" or data.round != entry.round:
        return
    if entry.state != "completed":
        return  # already evaluated, or a stale round
    entry.satisfied = True
    note = notes.satisfied(data.round_rate)
    apply(uow.session, entry, "evaluate_satisfied", actor=SYSTEM, note=note, event_id=env.id)
    await emit_entry(uow, "entry.progressed.v1", entry, actor=SYSTEM, note=note, satisfaction=data.round_rate)


# A household's pseudonym (hh_…) identifies it to staff tools, never to people reading the entry.
_HOUSEHOLD_REF = re.compile(r"[（(]?hh_[0-9a-f]{6,}[）)]?")


def reopen_reasons(reasons: list[str]) -> str:
    """The residents' reasons for a timeline note: no household references, personal data scrubbed."""
    return "；".join(scrub_text(_HOUSEHOLD_REF.sub("", r)).strip() for r in reasons if r.strip())


async def on_matter_reopened(uow: UnitOfWork, env: Envelope, data: events.MatterReopened) -> None:
    """Residents were not satisfied: a new round with its own deadline; the round's measures stay on record.

    A direct matter goes straight back to its lead (督促整改) under the same measures; a second unsatisfied round
    goes to the party organisation (督办); a deliberated matter waits for its session, which may set new
    measures and a new deadline.
    """
    s = uow.session
    entry = await entry_of(s, env, data.matter_id)
    if entry is None:
        log.warning("ledger.reopen_without_entry matter=%s", data.matter_id)
        return
    if data.round <= entry.round:
        return  # a duplicate or stale reopen of a round we already handle
    if entry.state not in ("completed", "evaluated"):
        note_only(
            s,
            entry,
            notes.reopen_refused(data.round, entry.state),
            actor=SYSTEM,
            event_id=env.id,
        )
        return
    if entry.measures:
        # The measures of the round that did not satisfy stay on the timeline when a new round replaces them.
        note_only(s, entry, notes.round_measures(entry.round, entry.measures), actor=SYSTEM, event_id=env.id)
    entry.round, entry.satisfied, entry.completed_at, entry.overdue = data.round, False, None, False
    # The new round's own clock starts at the reopening (a session or supervision may set another).
    entry.deadline = deadline_for(entry.level, clock(uow), deadline_policy())
    note = notes.reopened(data.round, reopen_reasons(data.reasons))
    apply(s, entry, "evaluate_unsatisfied", actor=SYSTEM, note=note, event_id=env.id)
    if data.escalate_to == "party_org":
        await _supervise(uow, entry, event_id=env.id)
    elif entry.route == "direct":
        again = entry.measures or DIRECT_MEASURES
        await _assign_direct(uow, entry, note="督促整改，重新交办原责任单位", event_id=env.id, measures=again)
    else:
        await emit_entry(
            uow, "entry.progressed.v1", entry, actor=SYSTEM, note=f"第{data.round}轮重办，待议事会重新议定"
        )


def party_org_unit(community: str) -> str | None:
    """The community's party organisation unit from the directory roster."""
    c = load_directory().community(community)
    return next((m.unit for m in c.roster.get("party_org", []) if m.unit), None) if c else None


async def _supervise(uow: UnitOfWork, entry: Entry, *, event_id: str | None) -> None:
    """Residents unsatisfied again: the party organisation leads (督办) with a new deadline, and is told."""
    now = clock(uow)
    entry.supervised = True
    entry.lead_party = "party_org"
    entry.lead_unit = party_org_unit(entry.community) or entry.lead_unit
    entry.measures = SUPERVISED_MEASURES
    entry.deadline = deadline_for(entry.level, now, deadline_policy())
    note = notes.supervised(entry.lead_unit)
    apply(uow.session, entry, "assign", actor=SYSTEM, note=note, event_id=event_id)
    await emit_entry(uow, "entry.assigned.v1", entry, actor=SYSTEM, note=notes.SUPERVISED_SHORT)
    await alerts.notify_supervision(uow, entry, now)


# --- periodic ------------------------------------------------------------------------------------


async def sweep_overdue(db, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Flag entries whose deadline passed while not done (idempotent); return how many were flagged."""
    now = now or utcnow()
    flagged = 0
    while True:
        async with db.session() as s:
            q = (
                select(Entry)
                .where(
                    Entry.overdue == False,  # noqa: E712
                    Entry.deadline.is_not(None),
                    Entry.deadline < now,
                    Entry.state.not_in(sorted(DONE_STATES)),
                )
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            rows = list((await s.exec(q)).all())
            for entry in rows:
                entry.overdue = True
                append(s, entry, actor=SYSTEM, action="overdue", from_state=entry.state, note=notes.OVERDUE, at=now)
            await s.commit()
        flagged += len(rows)
        if len(rows) < batch:
            return flagged
