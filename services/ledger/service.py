"""Operations on ledger entries shared by the handlers, the API and the sweeps: timeline, audit, task events."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

from sqlalchemy import insert, inspect
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.ledger import audit, notes
from services.ledger.domain import transition
from services.ledger.models import Entry, MatterView, SupportingTask, TimelineItem
from services.runtime.directory import load_directory
from services.runtime.privacy import scrub_text
from services.runtime.uow import UnitOfWork

SYSTEM = "ledger"  # actor of automatic changes
RESPONSIBLE_PARTIES = frozenset(
    {"party_org", "owners_committee", "property_company", "resident_rep", "partner_unit", "department"}
)


def clean(text: str | None, limit: int = 2000) -> str | None:
    """Staff free text as the ledger keeps and sends it: personal data scrubbed (the ledger holds none)."""
    return scrub_text(text)[:limit] if text else text


def utcnow() -> dt.datetime:
    """The current UTC time."""
    return dt.datetime.now(dt.UTC)


def append(
    session: AsyncSession,
    entry: Entry,
    *,
    actor: str,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    photos: list[str] | None = None,
    event_id: str | None = None,
    at: dt.datetime | None = None,
) -> TimelineItem:
    """Append one timeline item to an entry and stage its audit record (the (entry, seq) key catches races)."""
    entry.timeline_seq += 1
    at = at or utcnow()
    item = TimelineItem(
        entry_id=entry.id,
        seq=entry.timeline_seq,
        at=at,
        actor=actor[:128],
        action=action,
        from_state=from_state,
        to_state=to_state if to_state is not None else from_state,
        note=clean(note),
        photos=photos or [],
        event_id=event_id,
    )
    session.add(item)
    session.add(entry)
    audit.stage(session, entry, community=entry.community, actor=actor, action=action, entry_id=entry.id, at=at)
    return item


def apply(
    session: AsyncSession,
    entry: Entry,
    action: str,
    *,
    actor: str,
    note: str | None = None,
    photos: list[str] | None = None,
    event_id: str | None = None,
) -> None:
    """Move an entry through the state machine (IllegalTransition if not allowed) and record it."""
    before = entry.state
    entry.state = transition(before, action)
    entry.updated_at = utcnow()
    append(
        session,
        entry,
        actor=actor,
        action=action,
        from_state=before,
        to_state=entry.state,
        note=note,
        photos=photos,
        event_id=event_id,
    )


def note_only(session: AsyncSession, entry: Entry, note: str, *, actor: str, event_id: str | None) -> None:
    """Record a timeline note without a state change."""
    append(session, entry, actor=actor, action="note", from_state=entry.state, note=note, event_id=event_id)


def entry_event(
    entry: Entry, *, actor: str, note: str | None = None, satisfaction: float | None = None
) -> events.EntryEvent:
    """The entry.*.v1 payload describing an entry as it is now."""
    return events.EntryEvent(
        entry_id=entry.id,
        matter_id=entry.matter_id,
        state=entry.state,
        level=entry.level,
        category=entry.category,
        measures=clean(entry.measures),
        lead_party=entry.lead_party if entry.lead_party in RESPONSIBLE_PARTIES else None,
        lead_unit=entry.lead_unit,
        deadline=entry.deadline,
        note=clean(note),
        actor=actor[:128],
        households=max(entry.households, 1),
        round=max(entry.round, 1),
        at=utcnow(),
        satisfaction=satisfaction,
    )


async def emit_entry(
    uow: UnitOfWork, type: str, entry: Entry, *, actor: str, note: str | None = None, satisfaction: float | None = None
) -> None:
    """Emit an entry.*.v1 event about an entry (subject = its matter)."""
    data = entry_event(entry, actor=actor, note=note, satisfaction=satisfaction)
    await uow.emit(type, community=entry.community, subject=entry.matter_id, data=data)


def entry_id_for(matter_id: str) -> str:
    """The entry id of a matter: derived from it (one entry per matter), so a replay gives the same ids."""
    return "ent_" + hashlib.sha256(matter_id.encode()).hexdigest()[:20]


def party_of_unit(community: str, unit: str) -> str | None:
    """Which of the five parties a unit belongs to, from the directory: its roster, else a county department."""
    c = load_directory().community(community)
    if c is None:
        return None
    for party, members in c.roster.items():
        if any(m.unit == unit for m in members):
            return party
    return "department" if any(d.name == unit for d in c.departments) else None


def sync_supporting(
    session: AsyncSession,
    entry: Entry,
    existing: list[SupportingTask],
    *,
    actor: str,
    deadline: dt.datetime | None = None,
) -> None:
    """Give each supporting unit of the entry its own task (deadline = the entry's unless set)."""
    have = {t.unit for t in existing}
    now = utcnow()
    for unit in dict.fromkeys(entry.supporting_units):
        if unit in have:
            continue
        digest = hashlib.sha256(f"{entry.id}|{unit}".encode()).hexdigest()[:20]
        task = SupportingTask(
            id=f"sup_{digest}",
            entry_id=entry.id,
            community=entry.community,
            unit=unit[:128],
            party=party_of_unit(entry.community, unit),
            deadline=deadline or entry.deadline,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        audit.stage(
            session, task, community=entry.community, actor=actor, action="support_add", entry_id=entry.id, at=now
        )


async def supporting_of(session: AsyncSession, entry_id: str) -> list[SupportingTask]:
    """The supporting tasks of an entry, oldest first."""
    q = (
        select(SupportingTask)
        .where(SupportingTask.entry_id == entry_id)
        .order_by(SupportingTask.created_at, SupportingTask.id)
    )
    return list((await session.exec(q)).all())


def new_entry(session: AsyncSession, view: MatterView, *, actor: str, event_id: str | None) -> Entry:
    """Register a new entry for a matter from the ledger's read model."""
    now = utcnow()
    entry = Entry(
        id=entry_id_for(view.matter_id),
        matter_id=view.matter_id,
        community=view.community,
        compound=view.compound,
        building=view.building,
        category=view.category,
        level=view.level,
        route=view.route,
        title=view.title,
        state="registered",
        households=max(view.households, 1),
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    append(
        session, entry, actor=actor, action="register", to_state="registered", note=notes.REGISTERED, event_id=event_id
    )
    for note in view.pending_notes or []:
        append(session, entry, actor=SYSTEM, action="note", from_state="registered", note=note, event_id=event_id)
    if view.pending_notes:
        view.pending_notes = []
        session.add(view)
    return entry


@functools.cache
def _insert(table):
    return insert(table)


async def write_new(session: AsyncSession, *rows: MatterView | Entry | None) -> None:
    """Write a new view, entry and the entry's timeline with Core inserts, in the same transaction.

    Only rows the ORM has not written yet (pending); they leave the session, so it never flushes them: the ORM's
    flush of these rows was a fifth of the ledger's time in the saturated pipeline (issue 23). A later read in
    the transaction loads them from the database like any other row.
    """
    pending = [r for r in rows if r is not None and inspect(r).pending]
    ids = {r.id for r in pending if isinstance(r, Entry)}
    pending += [o for o in session.new if isinstance(o, TimelineItem) and o.entry_id in ids]
    by_table: dict = {}
    for row in pending:
        session.expunge(row)
        table = type(row).__table__
        values = {c.key: getattr(row, c.key) for c in table.columns}
        values = {k: v for k, v in values.items() if v is not None or not table.c[k].primary_key}  # db numbers it
        by_table.setdefault(table, []).append(values)
    for table, values in by_table.items():
        await session.exec(_insert(table), params=values)
