"""Feedback's own tables: revisits (回访), evaluations (一件一评价) and each matter's current round."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.contracts import labels
from services.runtime.notices import NoticeQueue
from services.runtime.tables import BusTables
from services.runtime.workcal_store import year_table

REVISIT_STATUS_ZH = labels.zh_map("revisit_status")
ROUND_OUTCOME_ZH = labels.zh_map("round_outcome")


class Table(SQLModel, registry=registry()):
    """Base of feedback's tables (its own metadata: no other service's tables mix in)."""


class Revisit(Table, table=True):
    """One planned revisit of a completed matter in one handling round."""

    __tablename__ = "revisit"
    __table_args__ = (UniqueConstraint("matter_id", "round", name="uq_revisit_matter_round"),)

    id: str = Field(primary_key=True, max_length=40)
    matter_id: str = Field(index=True, max_length=64)
    entry_id: str = Field(max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int = Field(ge=1)
    level: str = Field(max_length=16)
    category: str = Field(max_length=32)
    households: int = Field(ge=1)
    methods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    due_at: dt.datetime = Field(index=True)
    status: str = Field(default="open", index=True, max_length=16)
    created_at: dt.datetime
    measures: str | None = Field(default=None, max_length=2000)  # what was done (具体举措), from the ledger
    assignee: str | None = Field(default=None, index=True, max_length=128)  # the grid worker who revisits
    reminded_at: dt.datetime | None = None  # set once by the reminder job when the revisit falls due
    updated_by: str | None = Field(default=None, max_length=128)


class EvaluationRow(Table, table=True):
    """One household's evaluation in one round; the household is stored only as a pseudonym."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("matter_id", "round", "household_ref", name="uq_evaluation_one_voice"),)

    id: str = Field(primary_key=True, max_length=40)
    matter_id: str = Field(index=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int = Field(ge=1)
    household_ref: str = Field(max_length=64)
    rating: str = Field(max_length=32)
    solved: str | None = Field(default=None, max_length=16)
    is_reporter: bool = False
    comment: str = Field(default="", max_length=500)  # scrubbed of phones and room numbers
    method: str = Field(max_length=32)
    recorded_by: str = Field(max_length=128)
    recorded_at: dt.datetime
    # Home visits: {"photos": [url, ...], "signature": ref}; forums: {"forum_id": id}.
    evidence: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class MatterRound(Table, table=True):
    """A matter's current evaluation round and its outcome so far."""

    __tablename__ = "matter_round"

    matter_id: str = Field(primary_key=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int = Field(default=1, ge=1)
    outcome: str = Field(default="pending", max_length=16)
    closed: bool = False
    updated_at: dt.datetime


class MatterView(Table, table=True):
    """What residents see of a matter on a questionnaire: its title and place (from matter.triaged.v1)."""

    __tablename__ = "matter_view"

    matter_id: str = Field(primary_key=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    title: str = Field(max_length=500)
    updated_at: dt.datetime


class UsedLink(Table, table=True):
    """A consumed one-time link: its nonce is the unique key that makes the link single-use."""

    __tablename__ = "used_link"

    nonce: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=64)
    subject: str = Field(index=True, max_length=128)
    used_at: dt.datetime


class Forum(Table, table=True):
    """A group forum (集中座谈) held for one matter's round."""

    __tablename__ = "forum"

    id: str = Field(primary_key=True, max_length=40)
    matter_id: str = Field(index=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int = Field(ge=1)
    held_at: dt.datetime
    place: str = Field(max_length=200)
    households: int = Field(ge=1)
    recorded_by: str = Field(max_length=128)
    recorded_at: dt.datetime


class OwnerVote(Table, table=True):
    """An owners' vote under Civil Code art. 278 (业主共同决定事项), e.g. installing an elevator."""

    __tablename__ = "owner_vote"

    id: str = Field(primary_key=True, max_length=40)
    matter_id: str = Field(index=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    question: str = Field(max_length=500)
    kind: str = Field(max_length=16)  # major | ordinary, derived from `item` (ownervote_rules.kind_of)
    item: int | None = Field(default=None, ge=1, le=9)  # Civil Code art. 278 §1 item; None before items were asked
    total_area_m2: str = Field(max_length=20)  # exact decimal, e.g. "1237.50"
    total_owners: int = Field(ge=1)
    scope: str = Field(default="", max_length=200)  # e.g. 景湖花园 7号楼
    status: str = Field(default="open", max_length=16)  # open | closed
    opened_by: str = Field(max_length=128)
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None


class Ballot(Table, table=True):
    """One owner's ballot (one ballot per owner), with the owner's exclusive area."""

    __tablename__ = "ballot"
    __table_args__ = (UniqueConstraint("vote_id", "owner_ref", name="uq_ballot_one_owner"),)

    id: str = Field(primary_key=True, max_length=40)
    vote_id: str = Field(index=True, max_length=40)
    owner_ref: str = Field(max_length=64)
    area_m2: str = Field(max_length=20)  # exact decimal
    choice: str = Field(max_length=16)  # for | against | abstain
    recorded_by: str = Field(max_length=128)
    recorded_at: dt.datetime


class OwnerRoll(Table, table=True):
    """An owner invited to vote by one-time link, with the exclusive area their ballot will carry."""

    __tablename__ = "owner_roll"

    vote_id: str = Field(primary_key=True, max_length=40)
    owner_ref: str = Field(primary_key=True, max_length=64)
    area_m2: str = Field(max_length=20)  # exact decimal
    added_by: str = Field(max_length=128)
    added_at: dt.datetime


metadata = Table.metadata
bus_tables = BusTables(metadata)
workcal_years = year_table(metadata)  # the county's holiday table (its copy, fed by workcal.year_entered.v1)
notices = NoticeQueue(metadata)
