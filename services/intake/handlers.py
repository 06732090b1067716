"""Intake's event handlers, and `accept`, the one path every channel's report takes into the store."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.contracts import Envelope, events
from services.contracts.media import safe_photo
from services.intake import domain
from services.intake.models import MatterStep, Report
from services.runtime.consumer import Reject
from services.runtime.directory import load_directory
from services.runtime.inputs import check_year, refuse_controls
from services.runtime.privacy import Vault, mask_name, mask_phone, scrub_text
from services.runtime.problems import Problem
from services.runtime.uow import UnitOfWork

_vault: Vault | None = None
REOPENED_NOTE = "居民评价不满意，已督促责任单位重新整改"
MERGED_NOTE = "已与其他居民反映的同一问题合并办理"
SPLIT_NOTE = "经核实为另一件事，已单独立项办理"


def vault() -> Vault:
    """The process's PII vault (keys from settings)."""
    global _vault
    if _vault is None:
        _vault = Vault.from_settings()
    return _vault


@dataclass
class Incoming:
    """A report as any channel delivers it, before normalisation."""

    community: str
    channel: str
    channel_message_id: str
    text: str
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    kind_hint: str | None = None
    category_hint: str | None = None
    photos: list[str] = field(default_factory=list)
    name: str | None = None
    phone: str | None = None
    sender_id: str | None = None
    occurred_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    provenance: dict = field(default_factory=dict)
    callback_consent: bool = False  # the reporter agreed to be called back (同意回电); see reveal.py
    due_by: dt.datetime | None = None  # the dispatching platform's deadline (12345 承办时限)
    fresh_id: bool = False  # channel_message_id was generated just now, so no stored report can have it


async def find_existing(uow: UnitOfWork, channel: str, channel_message_id: str) -> Report | None:
    """The report already stored for a channel message id, if any (idempotency)."""
    q = select(Report).where(Report.channel == channel, Report.channel_message_id == channel_message_id)
    return (await uow.session.exec(q)).first()


async def accept(uow: UnitOfWork, inc: Incoming) -> tuple[Report, bool]:
    """Normalise, store (PII encrypted) and emit report.received.v1; return (report, created)."""
    _refuse_bad_input(inc)
    if not inc.fresh_id:
        existing = await find_existing(uow, inc.channel, inc.channel_message_id)
        if existing is not None:
            return existing, False
    report = _new_report(inc)
    if inc.fresh_id:
        uow.session.add(report)  # cannot collide: skip the savepoint that guards the replica race below
    else:
        try:
            async with uow.session.begin_nested():
                uow.session.add(report)
        except IntegrityError:
            # Another replica stored the same channel message a moment ago: same report, not a new one.
            existing = await find_existing(uow, inc.channel, inc.channel_message_id)
            if existing is None:
                raise
            return existing, False
    await _emit_received(uow, report, inc.due_by)
    return report, True


def _refuse_bad_input(inc: Incoming) -> None:
    """Every channel's report passes here: control characters and absurd years are refused before anything is stored."""
    refuse_controls(
        {
            "text": inc.text,
            "name": inc.name,
            "phone": inc.phone,
            "compound": inc.compound,
            "building": inc.building,
            "unit": inc.unit,
            "room": inc.room,
            "photos": inc.photos,
            "sender_id": inc.sender_id,
        }
    )
    for moment in (inc.occurred_at, inc.received_at):
        if moment is not None:
            check_year(moment.year, "occurred_at" if moment is inc.occurred_at else "received_at")


@dataclass(frozen=True)
class _Place:
    """Where a report is, from the channel's fields or else parsed from its text (room: also the parsed one)."""

    compound: str | None
    building: str | None
    unit: str | None
    room: str | None
    parsed_room: str | None


def _place(inc: Incoming, text: str) -> _Place:
    community = load_directory().community(inc.community)
    parsed = domain.parse_place(text, community)
    compound = inc.compound or parsed.compound
    if community is not None and compound is not None:
        # Accept names and aliases as well as codes; keep the code.
        found = community.compound(compound)
        compound = found.code if found else compound
    return _Place(
        compound=compound,
        building=inc.building or parsed.building,
        unit=inc.unit or parsed.unit,
        room=inc.room or parsed.room,
        parsed_room=parsed.room,
    )


def _new_report(inc: Incoming) -> Report:
    """The report to store: text cleaned and redacted, place resolved, personal data encrypted and masked."""
    text = domain.clean_text(inc.text)
    where = _place(inc, text)
    unparsed = [k for k in ("compound", "building", "unit") if getattr(where, k) is None]
    v = vault()
    contact = inc.phone or inc.sender_id or f"{inc.channel}:{inc.channel_message_id}"
    now = dt.datetime.now(dt.UTC)
    return Report(
        id=f"rpt_{uuid.uuid4().hex[:20]}",
        community=inc.community,
        tracking_code=domain.new_tracking_code(),
        channel=inc.channel,
        channel_message_id=inc.channel_message_id,
        kind=domain.infer_kind(text, inc.kind_hint, inc.channel),
        text=scrub_text(domain.redact_known(text, names=[inc.name], rooms=[where.room, where.parsed_room])),
        text_raw_enc=v.encrypt(inc.text),
        compound=where.compound,
        building=where.building,
        unit=where.unit,
        room_enc=v.encrypt(where.room),
        unparsed=unparsed,
        category_hint=inc.category_hint,
        photos=[p for p in inc.photos if safe_photo(p)],  # an adapter's script link is dropped, the report kept
        reporter_ref=v.pseudonym(contact),
        reporter_name_enc=v.encrypt(inc.name),
        reporter_phone_enc=v.encrypt(inc.phone),
        reporter_name_masked=mask_name(inc.name),
        reporter_phone_masked=mask_phone(inc.phone),
        provenance=inc.provenance,
        callback_consent=inc.callback_consent,
        received_at=inc.received_at or now,
        occurred_at=inc.occurred_at,
        updated_at=now,
    )


async def _emit_received(uow: UnitOfWork, report: Report, due_by: dt.datetime | None) -> None:
    await uow.emit(
        "report.received.v1",
        community=report.community,
        subject=report.id,
        data=events.ReportReceived(
            report_id=report.id,
            tracking_code=report.tracking_code,
            channel=report.channel,
            channel_message_id=report.channel_message_id,
            kind=report.kind,
            text=report.text,
            place=events.Place(compound=report.compound, building=report.building, unit=report.unit),
            category_hint=report.category_hint,
            photos=report.photos,
            received_at=report.received_at,
            occurred_at=report.occurred_at,
            reporter=events.MaskedReporter(
                ref=report.reporter_ref, name=report.reporter_name_masked, phone=report.reporter_phone_masked
            ),
            due_by=due_by,
        ),
    )


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


async def _reached(uow: UnitOfWork, env: Envelope, matter_id: str, step: str | None, at: dt.datetime) -> None:
    """Remember when a matter first reached a step (a later event of the same step keeps the first date)."""
    if step is None:
        return
    dialect = uow.session.bind.dialect.name if uow.session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    row = {"matter_id": matter_id, "step": step, "community": env.community, "at": at}
    await uow.session.exec(insert(MatterStep.__table__).values(**row).on_conflict_do_nothing())


# What a report shows once the ledger has it: copied to a report that joins a matter already under way.
_CARRIED = ("status", "status_note", "responsible", "expected_at", "status_seq")


async def on_matter_triaged(uow: UnitOfWork, env: Envelope, data: events.MatterTriaged) -> None:
    """Link reports to their matter; a report joining a matter already under way takes its current status."""
    t = Report.__table__
    sibling = t.alias("sibling")

    def latest(column: str):
        # The most advanced report of the matter in this community (never another community's: a forged
        # matter id must not lend its status). Uncorrelated, so evaluated once per statement.
        return (
            select(sibling.c[column])
            .where(
                sibling.c.matter_id == data.matter_id,
                sibling.c.community == env.community,
                sibling.c.status.not_in(("received", "triaged")),
            )
            .order_by(sibling.c.status_seq.desc(), sibling.c.updated_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    joining = t.c.status == "received"
    values = {c: case((joining, func.coalesce(latest(c), t.c[c])), else_=t.c[c]) for c in _CARRIED}
    values["status"] = case((joining, func.coalesce(latest("status"), "triaged")), else_=t.c.status)
    values |= {"matter_id": data.matter_id, "level": data.level, "category": data.category}
    await _set_status(uow, env, Report.id.in_(data.report_ids), values)
    await _reached(uow, env, data.matter_id, "graded", env.time)


async def on_task(uow: UnitOfWork, env: Envelope, data: events.TaskEvent) -> None:
    """Keep the resident-visible status of each report in step with the ledger."""
    seq = env.sequence or 0
    # Closed is final until a reopen; the status read model only moves forward in the subject's sequence.
    current = and_(Report.status != "closed", true() if seq == 0 else Report.status_seq < seq)
    values = {
        "status": data.state,
        # The ledger scrubs what it sends; scrubbed again here because this column is published as it is.
        "status_note": scrub_text(data.note or data.measures or "")[:2000] or None,
        "responsible": data.lead_unit,
        "expected_at": data.deadline,
        "status_seq": seq or Report.status_seq,
    }
    await _set_status(uow, env, Report.matter_id == data.matter_id, values, only=current)
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
