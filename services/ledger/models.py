"""The ledger's own tables: a read model of matters, ledger entries (办理台账) and their timelines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.defaults import empty_list
from services.runtime.notices import NoticeQueue
from services.runtime.tables import BusTables
from services.runtime.workcal_store import year_table


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
    due_by: dt.datetime | None = None  # the earliest 12345 承办时限 of its reports: caps the first round's deadline
    # Timeline notes that arrived before the matter had an entry (an owners' vote held ahead of the session);
    # the entry takes them when it is registered.
    pending_notes: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


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
    supporting_units: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
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
    # Red matters: the first response is due within hours (docs/emergency.md); set at the first claim/start/progress.
    first_action_due: dt.datetime | None = None
    first_action_at: dt.datetime | None = None
    # 督办: the party organisation took the lead after residents were unsatisfied twice.
    supervised: bool = Field(default=False, index=True)
    # Closed as merged (合并, state "merged"): staff merged the matter into this one, which carries the work on.
    merged_into: str | None = Field(default=None, max_length=64)


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
    photos: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    event_id: str | None = Field(default=None, max_length=128)


class SupportingTask(Table, table=True):
    """A supporting unit's own part of an entry (配合单位), with its own deadline and progress notes."""

    __tablename__ = "supporting_task"
    __table_args__ = (UniqueConstraint("entry_id", "unit", name="uq_supporting_entry_unit"),)

    id: str = Field(primary_key=True, max_length=40)
    entry_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    unit: str = Field(max_length=128)
    party: str | None = Field(default=None, max_length=32)
    deadline: dt.datetime | None = None
    state: str = Field(default="assigned", max_length=16)
    # Each note: {"at": ISO time, "actor": who, "note": what, "photos": [URLs]}
    progress: list[dict] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    overdue: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None = None


class Commitment(Table, table=True):
    """A promise made at a session for a matter (承诺事项), checked kept or broken before the entry is crossed off."""

    __tablename__ = "commitment"

    id: str = Field(primary_key=True, max_length=40)  # from the session's event: a redelivery adds nothing
    entry_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    session_id: str = Field(max_length=64)
    text: str = Field(max_length=500)
    owner_party: str | None = Field(default=None, max_length=32)
    owner: str = Field(max_length=128)
    due: dt.datetime
    state: str = Field(default="open", max_length=16)  # open | kept | broken
    checked_at: dt.datetime | None = None
    checked_by: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime


class EvaluationView(Table, table=True):
    """The latest rating of each household per matter and round, kept from evaluation.recorded."""

    __tablename__ = "evaluation_view"
    __table_args__ = (UniqueConstraint("matter_id", "round", "household_ref", name="uq_evaluation_household"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_id: str = Field(index=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int
    household_ref: str = Field(max_length=128)
    rating: str = Field(max_length=32)
    recorded_at: dt.datetime


class Reminder(Table, table=True):
    """A reminder already sent (task.reminder.v1): one per target, kind and deadline."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("target_id", "kind", "deadline", name="uq_reminder_target_kind_deadline"),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: str = Field(max_length=40)  # an entry id or a supporting task id
    entry_id: str = Field(index=True, max_length=40)
    kind: str = Field(max_length=16)
    deadline: dt.datetime
    sent_at: dt.datetime


class Alert(Table, table=True):
    """The red alert of an entry's round: paged until someone acknowledges it, escalating by tiers."""

    __tablename__ = "alert"

    id: str = Field(primary_key=True, max_length=40)
    entry_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    round: int = 1
    opened_at: dt.datetime
    tier: int = 0  # 0 on call, 1 the party secretary, 2 the county operators
    pages: int = 0  # pages sent at this tier
    next_page_at: dt.datetime | None = Field(default=None, index=True)
    status: str = Field(default="open", max_length=16)  # open, acknowledged
    acked_at: dt.datetime | None = None
    acked_by: str | None = Field(default=None, max_length=128)
    ack_via: str | None = Field(default=None, max_length=16)  # link, console


class ConsumedEvent(Table, table=True):
    """Every envelope the ledger consumed, in order, so the ledger can be rebuilt by replay."""

    __tablename__ = "consumed_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=128)
    type: str = Field(max_length=100)
    body: dict = Field(sa_column=Column(JSON, nullable=False))
    received_at: dt.datetime


class AuditRecord(Table, table=True):
    """One link of a community's append-only hash chain; never updated or deleted by code."""

    __tablename__ = "audit_record"
    __table_args__ = (UniqueConstraint("community", "seq", name="uq_audit_community_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    community: str = Field(index=True, max_length=64)
    seq: int
    at: dt.datetime
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    entry_id: str | None = Field(default=None, index=True, max_length=40)
    before: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(Table, table=True):
    """The last seq and hash of each community's chain: serialises writers and reveals a deleted tail."""

    __tablename__ = "audit_head"

    community: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    hash: str = Field(default="", max_length=64)


class Disclosure(Table, table=True):
    """A frozen monthly disclosure (一月一公示) of a community; a new version is a correction."""

    __tablename__ = "disclosure"
    __table_args__ = (UniqueConstraint("community", "month", "version", name="uq_disclosure_version"),)

    id: int | None = Field(default=None, primary_key=True)
    community: str = Field(index=True, max_length=64)
    month: str = Field(max_length=7)
    version: int
    created_at: dt.datetime
    created_by: str = Field(max_length=128)
    content: dict = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)


class BoardNotice(Table, table=True):
    """One month's notice for one board (小区公告栏 or 支部党建宣传栏): once per board and month, never edited."""

    __tablename__ = "board_notice"
    __table_args__ = (UniqueConstraint("community", "board", "month", name="uq_board_notice_month"),)

    id: int | None = Field(default=None, primary_key=True)
    community: str = Field(index=True, max_length=64)
    month: str = Field(max_length=7)
    board: str = Field(max_length=64)  # a compound's code, or "party" for the party-building board
    board_kind: str = Field(max_length=16)  # compound | party_building
    board_name: str = Field(max_length=128)
    disclosure_version: int
    published_at: dt.datetime
    published_by: str = Field(max_length=128)  # "system:monthly" or the staff member
    pushed: bool = False  # a notice to the owners' group was queued
    content: dict = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)


metadata = Table.metadata
bus_tables = BusTables(metadata)
workcal_years = year_table(metadata)  # the county's holiday table (its copy, fed by workcal.year_entered.v1)
notices = NoticeQueue(metadata)
