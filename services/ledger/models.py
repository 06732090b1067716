"""The ledger's own tables: a read model of matters, ledger entries (办理台账) and their timelines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import BusTables


class Table(SQLModel, registry=registry()):
    """Base of the ledger's tables (its own metadata: no other service's tables mix in)."""


class MatterView(Table, table=True):
    """What the ledger knows of a matter, kept from matter.triaged / matter.regraded."""

    __tablename__ = "matter_view"

    matter_id: str = Field(primary_key=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    compound: str | None = Field(default=None, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    category: str = Field(max_length=32)
    level: str = Field(max_length=16)
    route: str = Field(max_length=16)
    title: str = Field(default="", max_length=500)
    households: int = 1
    # Per-type sequences and the grade's own clock, so stale or reordered events never roll back.
    triaged_seq: int = 0
    regraded_seq: int = 0
    graded_at: dt.datetime | None = None
    updated_at: dt.datetime


class Entry(Table, table=True):
    """One handling ledger entry per matter (一事一清单), crossed off (销号) when closed."""

    __tablename__ = "entry"

    id: str = Field(primary_key=True, max_length=40)
    matter_id: str = Field(unique=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    compound: str | None = Field(default=None, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    category: str = Field(max_length=32)
    level: str = Field(max_length=16)
    route: str = Field(max_length=16)
    title: str = Field(default="", max_length=500)
    state: str = Field(index=True, max_length=32)
    measures: str | None = Field(default=None, max_length=2000)
    lead_party: str | None = Field(default=None, max_length=32)
    lead_unit: str | None = Field(default=None, max_length=128)
    supporting_units: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    deadline: dt.datetime | None = None
    round: int = 1
    households: int = 1
    satisfied: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    overdue: bool = Field(default=False, index=True)
    escalated_to: str | None = Field(default=None, max_length=128)
    timeline_seq: int = 0  # last TimelineItem.seq of this entry


class TimelineItem(Table, table=True):
    """One change of an entry; appended, never edited."""

    __tablename__ = "timeline_item"
    __table_args__ = (UniqueConstraint("entry_id", "seq", name="uq_timeline_entry_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(index=True, max_length=40)
    seq: int
    at: dt.datetime
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_id: str | None = Field(default=None, max_length=128)


metadata = Table.metadata
bus_tables = BusTables(metadata)
