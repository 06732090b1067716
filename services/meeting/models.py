"""Meeting's own tables: the deliberation queue, sessions and their agendas."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, UniqueConstraint, false, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.defaults import empty_dict, empty_list
from services.runtime.tables import BusTables
from services.runtime.workcal_store import year_table

UTC = dt.UTC


def utc(value: dt.datetime) -> dt.datetime:
    """Normalise to UTC before storing (SQLite keeps wall-clock text without an offset)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored datetime as an aware UTC value (SQLite hands back naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Table(SQLModel, registry=registry()):
    """Base of meeting's tables (its own metadata: no other service's tables mix in)."""


class QueuedMatter(Table, table=True):
    """A deliberate-route matter as the meeting service knows it: its grade and where it is planned."""

    __tablename__ = "queued_matter"
    __table_args__ = (Index("ix_queued_matter_community_state", "community", "state"),)

    matter_id: str = Field(primary_key=True, max_length=64)
    community: str = Field(max_length=64)
    compound: str | None = Field(default=None, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    category: str = Field(max_length=32)
    level: str = Field(max_length=16)
    route: str = Field(max_length=16)
    title: str = Field(max_length=500)
    households: int = 1
    queued_at: dt.datetime = Field(sa_column=_ts())
    carried_over: int = 0
    state: str = Field(default="queued", max_length=16)  # queued | scheduled | resolved | closed | direct
    session_id: str | None = Field(default=None, index=True, max_length=40)
    round: int = 1
    grade_seq: int = 0  # highest triage sequence applied; older grade events are dropped
    # 本月议题: the convenor made it a topic; it goes first onto the next fixed day until deliberated.
    pinned: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    updated_at: dt.datetime = Field(sa_column=_ts())
    # 小事不出小区: staff's (or a compound meeting's referral) choice of tier; None = the rule (tiers.py).
    tier_override: str | None = Field(default=None, max_length=16)


class MeetingSession(Table, table=True):
    """One deliberation session (议事会): emergency, monthly fixed day or on-site inspection."""

    __tablename__ = "session"
    __table_args__ = (
        # Two planners must never create two sessions for one community and fixed day.
        Index(
            "uq_session_fixed_day_hall",
            "community",
            "hall",
            "kind",
            "starts_at",
            unique=True,
            sqlite_where=text("kind = 'fixed_day'"),
            postgresql_where=text("kind = 'fixed_day'"),
        ),
        Index("ix_session_community_starts", "community", "starts_at"),
        # The fixed day a (possibly rescheduled) fixed-day session stands for: still one per day.
        Index(
            "uq_session_fixed_slot_hall",
            "community",
            "hall",
            "slot_at",
            unique=True,
            sqlite_where=text("kind = 'fixed_day'"),
            postgresql_where=text("kind = 'fixed_day'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    community: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # emergency | fixed_day | site_inspection
    status: str = Field(default="scheduled", max_length=16)  # scheduled | concluded | adjourned | cancelled
    starts_at: dt.datetime = Field(sa_column=_ts())
    place: str = Field(max_length=200)
    compound: str | None = Field(default=None, max_length=64)
    capacity: int = 5
    created_at: dt.datetime = Field(sa_column=_ts())
    concluded_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    invitees: list[dict] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    attendance: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    minutes: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    slot_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    sequence: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )  # iCalendar SEQUENCE: bumped on every reschedule and on cancel
    history: list[dict] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    # Set by the convenor's first agenda change: from then on the planner proposes nothing more for it.
    agenda_set_by: str | None = Field(default=None, max_length=128)
    agenda_set_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Which hall meets: "community" (the Five-Party Deliberation Hall) or a compound's code (小区议事会).
    hall: str = Field(default="community", sa_column=Column(String(64), nullable=False, server_default="community"))


class AgendaItem(Table, table=True):
    """One matter on one session's agenda."""

    __tablename__ = "agenda_item"
    __table_args__ = (UniqueConstraint("session_id", "matter_id", name="uq_agenda_session_matter"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="session.id", index=True, max_length=40)
    matter_id: str = Field(index=True, max_length=64)
    position: int
    added_by: str | None = Field(default=None, max_length=128)  # "planner" for the automatic proposal


class AgendaChange(Table, table=True):
    """One change of a session's agenda (who, when, what); appended, never edited."""

    __tablename__ = "agenda_change"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(index=True, max_length=40)
    community: str = Field(max_length=64)
    at: dt.datetime = Field(sa_column=_ts())
    actor: str = Field(max_length=128)  # a staff subject, or "planner"
    action: str = Field(max_length=16)  # propose | add | remove | move | pin | unpin | withdraw
    matter_id: str = Field(max_length=64)
    from_position: int | None = None
    to_position: int | None = None
    reason: str | None = Field(default=None, max_length=500)


class TierChange(Table, table=True):
    """A matter moved between the community hall and its compound's meeting (who, when, why); appended only."""

    __tablename__ = "tier_change"

    id: int | None = Field(default=None, primary_key=True)
    matter_id: str = Field(index=True, max_length=64)
    community: str = Field(max_length=64)
    at: dt.datetime = Field(sa_column=_ts())
    actor: str = Field(max_length=128)
    action: str = Field(max_length=16)  # set | auto | refer_up
    to_tier: str = Field(max_length=16)
    session_id: str | None = Field(default=None, max_length=40)  # the compound meeting that referred it up
    reason: str = Field(max_length=500)


class ForesightProposal(Table, table=True):
    """未诉先办: a recurring problem proposed as a topic for a month; the convenor accepts or dismisses it."""

    __tablename__ = "foresight_proposal"
    __table_args__ = (UniqueConstraint("community", "problem", "month", name="uq_foresight_problem_month"),)

    id: str = Field(primary_key=True, max_length=40)  # derived from community, problem and month
    community: str = Field(index=True, max_length=64)
    problem: str = Field(max_length=160)  # "<compound>/<building or ->/<category>"
    month: str = Field(max_length=7)
    compound: str = Field(max_length=64)
    building: str | None = Field(default=None, max_length=32)
    category: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # recurring | seasonal
    season: str | None = Field(default=None, max_length=16)
    evidence_zh: str = Field(max_length=2000)
    evidence: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))  # dates, matter ids
    status: str = Field(default="proposed", max_length=16)  # proposed | accepted | dismissed
    created_at: dt.datetime = Field(sa_column=_ts())
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    reason: str | None = Field(default=None, max_length=500)
    matter_id: str | None = Field(default=None, max_length=64)  # the topic an acceptance put in the queue


class Notice(Table, table=True):
    """A notice to one recipient about one session (invitation, change, reminder); sent at most once."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("session_id", "kind", "recipient", name="uq_notice_session_kind_recipient"),
        Index("ix_notice_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=40)
    kind: str = Field(max_length=40)  # invitation | rescheduled.<seq> | cancelled | reminder_24h | reminder_1h
    recipient: str = Field(max_length=200)  # "<party>:<name>", or "group" for broadcast channels
    community: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed
    attempts: int = 0
    due_at: dt.datetime = Field(sa_column=_ts())
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(sa_column=_ts())
    sent_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


metadata = Table.metadata
bus_tables = BusTables(metadata)
workcal_years = year_table(metadata)  # the county's holiday table of record (workdays_api)
