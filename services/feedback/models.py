"""Feedback's own tables: revisits (回访), evaluations (一件一评价) and each matter's current round."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import BusTables

REVISIT_STATUSES = ("open", "done", "overdue")
REVISIT_STATUS_ZH = {"open": "待回访", "done": "已回访", "overdue": "回访逾期"}
ROUND_OUTCOME_ZH = {"pending": "评价收集中", "satisfied": "群众满意", "reopen": "退回整改", "escalate": "党组织督办"}


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


class MatterRound(Table, table=True):
    """A matter's current evaluation round and its outcome so far."""

    __tablename__ = "matter_round"

    matter_id: str = Field(primary_key=True, max_length=64)
    community: str = Field(index=True, max_length=64)
    round: int = Field(default=1, ge=1)
    outcome: str = Field(default="pending", max_length=16)
    closed: bool = False
    updated_at: dt.datetime


metadata = Table.metadata
bus_tables = BusTables(metadata)
