"""Triage's own tables: matters (one problem however many reported it), their reports, regrade audit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.defaults import empty_dict, empty_list
from services.runtime.tables import BusTables


class Table(SQLModel, registry=registry()):
    """Base of triage's tables (its own metadata: no other service's tables mix in)."""


class Matter(Table, table=True):
    """One matter (事项) with its current grade; reports of the same problem and place join it."""

    __tablename__ = "matter"

    id: str = Field(primary_key=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    compound: str | None = Field(default=None, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=16)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    category: str = Field(max_length=32)
    level: str = Field(index=True, max_length=16)
    route: str = Field(max_length=16)
    reasons: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    # The same reasons in English words, line for line (empty for matters graded before the twins existed).
    reasons_en: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    confidence: float = 0.0
    needs_review: bool = Field(default=False, index=True)
    households: int = 1
    reporters: int = 1
    cluster_key: str = Field(index=True, max_length=300)
    status: str = Field(default="open", index=True, max_length=16)  # open, closed (销号) or merged (合并)
    merged_into: str | None = Field(default=None, max_length=40)  # the surviving matter of a staff merge
    split_from: str | None = Field(default=None, index=True, max_length=40)  # the matter a staff split came from
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = 1


class MatterReport(Table, table=True):
    """A report that belongs to a matter; the report id is unique (idempotent handling)."""

    __tablename__ = "matter_report"

    report_id: str = Field(primary_key=True, max_length=64)
    matter_id: str = Field(index=True, max_length=40)
    reporter_ref: str = Field(max_length=128)
    text: str = Field(default="", max_length=5000)
    households_stated: int = 1
    channel: str | None = Field(default=None, max_length=32)  # graded again with it when a split moves the report
    received_at: dt.datetime
    due_by: dt.datetime | None = None  # the dispatching platform's deadline (12345 承办时限)


class Regrade(Table, table=True):
    """Audit of a grade change (staff or automatic); doubles as labelled data (text + final grade)."""

    __tablename__ = "regrade"

    id: int | None = Field(default=None, primary_key=True)
    matter_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    by: str = Field(max_length=128)
    reason: str = Field(max_length=500)
    text: str = Field(default="", max_length=5000)
    before: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    after: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    at: dt.datetime
    # 'regrade' (staff change), 'confirm' (staff accepted the grade as is), 'auto' (headcount), 'merge' or 'split'
    # (staff moved reports between matters: audited here, never a grading label); None = legacy.
    action: str | None = Field(default=None, max_length=16)


metadata = Table.metadata
bus_tables = BusTables(metadata)
