"""Intake's event handlers: each consumed event calls a use case (service.py) or updates the read model."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import and_, bindparam, case, func, or_, true, update
from sqlmodel import select

from services.contracts import Envelope, events
from services.intake import domain
from services.intake.models import MatterStep, Report
from services.intake.service import Incoming, accept, find_existing, vault  # noqa: F401  (handlers.vault in tests)
from services.runtime.consumer import Reject
from services.runtime.directory import load_directory
from services.runtime.errors import Problem
from services.runtime.privacy import scrub_text
from services.runtime.tables import upsert
from services.runtime.uow import UnitOfWork

REOPENED_NOTE = "居民评价不满意，已督促责任单位重新整改"
MERGED_NOTE = "已与其他居民反映的同一问题合并办理"
SPLIT_NOTE = "经核实为另一件事，已单独立项办理"


async def on_channel_message(uow: UnitOfWork, env: Envelope, msg: events.ChannelMessage) -> None:
    """A channel adapter's message becomes a report (the same message id again is the same report)."""
    if load_directory().community(env.community) is None:
        raise Reject(f"unknown community {env.community!r}")
    if msg.sender and msg.sender.phone and not domain.valid_phone(msg.sender.phone):
        raise Reject("sender.phone is not a valid mainland mobile number")
    place = msg.place or events.Place()
    try:
        await _accept_message(uow, env, msg, place)
    except Problem as exc:  # no one to answer: dead-letter with the reason, replayable once fixed
        raise Reject(f"{exc.errors[0]['field'] if exc.errors else 'message'}: {exc.detail_en}") from exc


async def _accept_message(uow: UnitOfWork, env: Envelope, msg: events.ChannelMessage, place: events.Place) -> None:
    await accept(
        uow,
        Incoming(
            community=env.community,
            channel=msg.channel,
            channel_message_id=msg.channel_message_id,
            text=msg.text,
            compound=place.compound,
            building=place.building,
            unit=place.unit,
            room=msg.sender.room if msg.sender else None,
            kind_hint=msg.kind_hint,
            category_hint=msg.category_hint,
            photos=msg.photos,
            name=msg.sender.name if msg.sender else None,
            phone=msg.sender.phone if msg.sender else None,
            sender_id=msg.sender.id if msg.sender else None,
            occurred_at=msg.occurred_at,
            received_at=msg.received_at,
            provenance={"source": env.source, "event_id": env.id},
        ),
    )


async def _set_status(uow: UnitOfWork, env: Envelope, which, values: dict, *, only=true()) -> None:
    """Update the reports `which` selects (where `only` holds) in one statement, loading none of them.

    A report of another community among them refuses the whole event (Reject; its transaction rolls back),
    whatever `only` says: a forged or misrouted event must never change another community's reports.
    A matter of many reports (a whole building's outage) costs one statement per event, not a row each.
    Report objects another unit of the same group holds are not refreshed: none of them writes these columns.
    """
    t = Report.__table__
    stmt = (
        update(t)
        .where(which, or_(t.c.community != env.community, only))
        .values(**values, updated_at=dt.datetime.now(dt.UTC))
        .returning(t.c.community)
    )
    if any(c != env.community for c in (await uow.session.exec(stmt)).scalars()):
        raise Reject(f"{env.type} claims community {env.community!r} for reports of another community")


# The steps residents follow on the tracking page, and the step each ledger state reaches (reopened: none new).
STEPS = ("received", "graded", "assigned", "in_progress", "done", "evaluated")
STEP_OF_STATE = {
    "registered": "assigned",
    "assigned": "assigned",
    "claimed": "in_progress",
    "in_progress": "in_progress",
    "escalated": "in_progress",
    "completed": "done",
    "evaluated": "evaluated",
    "closed": "evaluated",
}


@functools.cache
def _step_statement(dialect: str):
    """First time a matter reaches a step: built once per dialect, run with parameters (issue 23)."""
    return upsert(MatterStep.__table__, dialect).on_conflict_do_nothing()


async def _reached(uow: UnitOfWork, env: Envelope, matter_id: str, step: str | None, at: dt.datetime) -> None:
    """Remember when a matter first reached a step (a later event of the same step keeps the first date)."""
    if step is None:
        return
    row = {"matter_id": matter_id, "step": step, "community": env.community, "at": at}
    await uow.session.exec(_step_statement(uow.dialect), params=row)


# What a report shows once the ledger has it: copied to a report that joins a matter already under way.
_CARRIED = ("status", "status_note", "responsible", "expected_at", "status_seq")


@functools.cache
def _triaged_statement(one: bool):
    """Link reports to their matter: built once per process, run with parameters (issue 23: building it per
    event, six subqueries and their cache key, was a fifth of intake's time in the saturated pipeline).

    `one`: the matter names one report (most do), compared with `=`: an expanding IN is rendered again at
    every execution."""
    t = Report.__table__
    sibling = t.alias("sibling")
    community = bindparam("p_community", type_=t.c.community.type)
    matter = bindparam("p_matter", type_=t.c.matter_id.type)

    def latest(column: str):
        # The most advanced report of the matter in this community (never another community's: a forged
        # matter id must not lend its status). Uncorrelated, so evaluated once per statement.
        return (
            select(sibling.c[column])
            .where(
                sibling.c.matter_id == matter,
                sibling.c.community == community,
                # Two comparisons, not NOT IN: a literal IN is an expanding parameter, rendered at every execution.
                sibling.c.status != "received",
                sibling.c.status != "triaged",
            )
            .order_by(sibling.c.status_seq.desc(), sibling.c.updated_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    joining = t.c.status == "received"
    values = {c: case((joining, func.coalesce(latest(c), t.c[c])), else_=t.c[c]) for c in _CARRIED}
    values["status"] = case((joining, func.coalesce(latest("status"), "triaged")), else_=t.c.status)
    values |= {
        "matter_id": matter,
        "level": bindparam("p_level", type_=t.c.level.type),
        "category": bindparam("p_category", type_=t.c.category.type),
        "updated_at": bindparam("p_now", type_=t.c.updated_at.type),
    }
    # Every report named, whatever its community: the caller refuses the event if one is another community's.
    named = t.c.id == bindparam("p_id", type_=t.c.id.type) if one else t.c.id.in_(bindparam("p_ids", expanding=True))
    return update(t).where(named).values(**values).returning(t.c.community)


async def on_matter_triaged(uow: UnitOfWork, env: Envelope, data: events.MatterTriaged) -> None:
    """Link reports to their matter; a report joining a matter already under way takes its current status."""
    one = len(data.report_ids) == 1
    params = {
        **({"p_id": data.report_ids[0]} if one else {"p_ids": list(data.report_ids)}),
        "p_community": env.community,
        "p_matter": data.matter_id,
        "p_level": data.level,
        "p_category": data.category,
        "p_now": dt.datetime.now(dt.UTC),
    }
    if any(c != env.community for c in (await uow.session.exec(_triaged_statement(one), params=params)).scalars()):
        raise Reject(f"{env.type} claims community {env.community!r} for reports of another community")
    await _reached(uow, env, data.matter_id, "graded", env.time)


@functools.cache
def _entry_statement(sequenced: bool):
    """The status update of an entry.* event, built once (with and without a sequence) and run with
    parameters (issue 23: built per event it was about a tenth of intake's time in the saturated pipeline)."""
    t = Report.__table__
    seq = bindparam("p_seq", type_=t.c.status_seq.type)
    # Closed is final until a reopen; the status read model only moves forward in the subject's sequence.
    current = and_(t.c.status != "closed", t.c.status_seq < seq if sequenced else true())
    values = {
        "status": bindparam("p_state", type_=t.c.status.type),
        "status_note": bindparam("p_note", type_=t.c.status_note.type),
        "responsible": bindparam("p_lead", type_=t.c.responsible.type),
        "expected_at": bindparam("p_deadline", type_=t.c.expected_at.type),
        "status_seq": seq if sequenced else t.c.status_seq,
        "updated_at": bindparam("p_now", type_=t.c.updated_at.type),
    }
    # Every report of the matter, whatever its community: the caller refuses the event if one is another's.
    community = bindparam("p_community", type_=t.c.community.type)
    which = and_(
        t.c.matter_id == bindparam("p_matter", type_=t.c.matter_id.type), or_(t.c.community != community, current)
    )
    return update(t).where(which).values(**values).returning(t.c.community)


async def on_entry(uow: UnitOfWork, env: Envelope, data: events.EntryEvent) -> None:
    """Keep the resident-visible status of each report in step with the ledger."""
    seq = env.sequence or 0
    params = {
        "p_matter": data.matter_id,
        "p_community": env.community,
        "p_state": data.state,
        # The ledger scrubs what it sends; scrubbed again here because this column is published as it is.
        "p_note": scrub_text(data.note or data.measures or "")[:2000] or None,
        "p_lead": data.lead_unit,
        "p_deadline": data.deadline,
        "p_now": dt.datetime.now(dt.UTC),
    }
    if seq:
        params["p_seq"] = seq
    if any(c != env.community for c in (await uow.session.exec(_entry_statement(bool(seq)), params=params)).scalars()):
        raise Reject(f"{env.type} claims community {env.community!r} for reports of another community")
    await _reached(uow, env, data.matter_id, STEP_OF_STATE.get(data.state), data.at)


async def on_matter_closed(uow: UnitOfWork, env: Envelope, data: events.MatterClosed) -> None:
    """A crossed-off matter closes its reports."""
    values = {"status": "closed", "status_note": "已销号"}
    await _set_status(uow, env, Report.matter_id == data.matter_id, values)
    await _reached(uow, env, data.matter_id, "evaluated", env.time)


async def on_matter_reopened(uow: UnitOfWork, env: Envelope, data: events.MatterReopened) -> None:
    """A reopened matter shows as reopened to its reporters (the reasons quote residents: they stay with staff)."""
    values = {"status": "reopened", "status_note": REOPENED_NOTE}
    await _set_status(uow, env, Report.matter_id == data.matter_id, values)


async def on_matter_regraded(uow: UnitOfWork, env: Envelope, data: events.MatterRegraded) -> None:
    """Keep the level shown to staff and the category Open311 publishes current."""
    await _set_status(uow, env, Report.matter_id == data.matter_id, {"level": data.level, "category": data.category})


async def on_matter_merged(uow: UnitOfWork, env: Envelope, data: events.MatterMerged) -> None:
    """Reports of a merged matter follow the surviving matter: its status, responsible unit and expected date."""
    t = Report.__table__
    sibling = t.alias("sibling")
    moved = list(data.report_ids)

    def survivor(column: str):
        # The survivor's most advanced report of this community, never one of the moved reports themselves
        # (the survivor's matter.triaged may already have re-linked them).
        return (
            select(sibling.c[column])
            .where(
                sibling.c.matter_id == data.into,
                sibling.c.community == env.community,
                sibling.c.id.not_in(moved),
            )
            .order_by(sibling.c.status_seq.desc(), sibling.c.updated_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    values = {
        "matter_id": data.into,
        "status": func.coalesce(survivor("status"), "triaged"),
        "status_note": MERGED_NOTE,
        "responsible": survivor("responsible"),
        "expected_at": survivor("expected_at"),
        "status_seq": func.coalesce(survivor("status_seq"), 0),
    }
    which = and_(Report.id.in_(moved), Report.matter_id.in_((data.matter_id, data.into)))
    await _set_status(uow, env, which, values)


async def on_matter_split(uow: UnitOfWork, env: Envelope, data: events.MatterSplit) -> None:
    """Reports split off into a new matter start again there (triaged), with a note saying why in words."""
    values = {
        "matter_id": data.new_matter_id,
        "status": "triaged",
        "status_note": SPLIT_NOTE,
        "responsible": None,
        "expected_at": None,
        "status_seq": 0,
    }
    which = and_(Report.id.in_(data.report_ids), Report.matter_id.in_((data.matter_id, data.new_matter_id)))
    await _set_status(uow, env, which, values)
