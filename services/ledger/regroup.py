"""Matters merged or split by staff in triage: an entry closed as merged (合并) points at the survivor."""

from __future__ import annotations

from services.contracts import Envelope, events
from services.ledger import notes
from services.ledger.handlers import _view_of, entry_of
from services.ledger.service import append, note_only, utcnow
from services.runtime.uow import UnitOfWork


async def _title(uow: UnitOfWork, env: Envelope, matter_id: str, fallback: str) -> str:
    view = await _view_of(uow.session, env, matter_id)
    return (view.title if view is not None and view.title else fallback)[:40]


async def on_matter_merged(uow: UnitOfWork, env: Envelope, data: events.MatterMerged) -> None:
    """Close the merged matter's entry as merged (合并) pointing at the survivor; note it on the survivor's entry."""
    s = uow.session
    entry = await entry_of(s, env, data.matter_id)
    if entry is not None and entry.state not in ("closed", "merged"):
        before = entry.state
        entry.state, entry.merged_into = "merged", data.into
        entry.closed_at = entry.updated_at = utcnow()
        note = notes.merged_away(data.into_title, data.reason)
        append(s, entry, actor=data.by, action="merge", from_state=before, to_state="merged", note=note,
               event_id=env.id)  # fmt: skip
    survivor = await entry_of(s, env, data.into)
    if survivor is not None and survivor.state not in ("closed", "merged"):
        title = await _title(uow, env, data.matter_id, "另一事项")
        note = notes.took_in(title, len(data.report_ids), data.reason)
        note_only(s, survivor, note, actor=data.by, event_id=env.id)


async def on_matter_split(uow: UnitOfWork, env: Envelope, data: events.MatterSplit) -> None:
    """Note on the original entry that reports were split off into a new matter (which gets its own entry)."""
    entry = await entry_of(uow.session, env, data.matter_id)
    if entry is None or entry.state in ("closed", "merged"):
        return
    note = notes.split_off(len(data.report_ids), data.new_title, data.reason)
    note_only(uow.session, entry, note, actor=data.by, event_id=env.id)
