"""Intake's use cases: `accept`, the one path every channel's report takes into the store."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field

from sqlalchemy import bindparam
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import select

from services.contracts import events
from services.contracts.media import safe_photo
from services.intake import domain
from services.intake.models import Report
from services.runtime.directory import load_directory
from services.runtime.inputs import check_year, refuse_controls
from services.runtime.privacy import Vault, mask_name, mask_phone, public_photo, scrub_text
from services.runtime.tables import upsert
from services.runtime.uow import UnitOfWork

_vault: Vault | None = None


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


@functools.cache
def _by_message_id():
    """Built once, run with parameters (issue 23: building it was about a third of the lookup, once a report)."""
    same = Report.channel == bindparam("p_channel"), Report.channel_message_id == bindparam("p_id")
    return select(Report).where(*same)


async def find_existing(uow: UnitOfWork, channel: str, channel_message_id: str) -> Report | None:
    """The report already stored for a channel message id, if any (idempotency)."""
    params = {"p_channel": channel, "p_id": channel_message_id}
    return (await uow.session.exec(_by_message_id(), params=params)).first()


async def accept(uow: UnitOfWork, inc: Incoming) -> tuple[Report, bool]:
    """Normalise, store (PII encrypted) and emit report.received.v1; return (report, created)."""
    # Every channel's report passes here: control characters are refused once, before anything is stored.
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
    if not inc.fresh_id:
        existing = await find_existing(uow, inc.channel, inc.channel_message_id)
        if existing is not None:
            return existing, False
    report = _new_report(inc)
    if not await _store(uow, report):
        # Another replica stored the same channel message a moment ago: same report, not a new one.
        existing = await find_existing(uow, inc.channel, inc.channel_message_id)
        if existing is None:
            raise RuntimeError(f"report {inc.channel}:{inc.channel_message_id} conflicted, yet none is stored")
        return existing, False
    await _announce(uow, report, inc)
    return report, True


@functools.cache
def _insert_statement(dialect: str):
    """The report's insert, a no-op if its channel message is stored already: built once per dialect (issue 23)."""
    t = Report.__table__
    return upsert(t, dialect).on_conflict_do_nothing(index_elements=[t.c.channel, t.c.channel_message_id])


async def _store(uow: UnitOfWork, report: Report) -> bool:
    """Insert the report unless its channel message is stored already (another replica's); True if inserted.

    One statement instead of a savepoint round the ORM's flush (the guard against the replica race, and
    intake's largest single item in the saturated pipeline, issue 23). Any other conflict (id, tracking code)
    still raises. The inserted report joins the session as a loaded row: later changes to it are flushed as usual.
    """
    values = {c.key: getattr(report, c.key) for c in Report.__table__.columns}
    if (await uow.session.exec(_insert_statement(uow.dialect), params=values)).rowcount != 1:
        return False
    make_transient_to_detached(report)
    uow.session.add(report)
    return True


def _new_report(inc: Incoming) -> Report:
    """The report row of an incoming message: text cleaned, place parsed, PII encrypted and masked."""
    community = load_directory().community(inc.community)
    text = domain.clean_text(inc.text)
    parsed = domain.parse_place(text, community)
    compound = inc.compound or parsed.compound
    if community is not None and compound is not None:
        # Accept names and aliases as well as codes; keep the code.
        found = community.compound(compound)
        compound = found.code if found else compound
    building = inc.building or parsed.building
    unit = inc.unit or parsed.unit
    room = inc.room or parsed.room
    unparsed = [k for k, v in (("compound", compound), ("building", building), ("unit", unit)) if v is None]
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
        text=scrub_text(domain.redact_known(text, names=[inc.name], rooms=[room, parsed.room])),
        text_raw_enc=v.encrypt(inc.text),
        compound=compound,
        building=building,
        unit=unit,
        room_enc=v.encrypt(room),
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


async def _announce(uow: UnitOfWork, report: Report, inc: Incoming) -> None:
    """Emit report.received.v1 (masked reporter only) in the same unit of work."""
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
            photos=[p for p in report.photos if public_photo(p)],  # a file named after a person stays in intake
            received_at=report.received_at,
            occurred_at=report.occurred_at,
            # The reference only: a masked name or phone (王**, 138****1234) still points at a person, and no
            # consumer needs one; staff read them from intake.
            reporter=events.MaskedReporter(ref=report.reporter_ref),
            due_by=inc.due_by,
        ),
    )
