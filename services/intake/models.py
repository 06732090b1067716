"""Intake's own tables: reports (personal data encrypted), channel adapter API keys, the reveal audit chain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, LargeBinary, UniqueConstraint, false
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.defaults import empty_dict, empty_list
from services.runtime.tables import BusTables


class Table(SQLModel, registry=registry()):
    """Base of intake's tables (its own metadata: no other service's tables mix in)."""


class Report(Table, table=True):
    """One normalised report; name, phone, room and the raw text are encrypted at rest."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("channel", "channel_message_id", name="uq_report_channel_msg"),)

    id: str = Field(primary_key=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    tracking_code: str = Field(unique=True, max_length=16)
    channel: str = Field(max_length=32)
    channel_message_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    text: str = Field(max_length=5000)  # scrubbed; safe to publish
    text_raw_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    compound: str | None = Field(default=None, max_length=64)
    building: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=16)
    room_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    unparsed: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    category_hint: str | None = Field(default=None, max_length=32)
    photos: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    reporter_ref: str = Field(index=True, max_length=64)
    reporter_name_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    reporter_phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    reporter_name_masked: str | None = Field(default=None, max_length=64)
    reporter_phone_masked: str | None = Field(default=None, max_length=32)
    provenance: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    # The reporter agreed to be called back by community staff (同意回电); only then may staff reveal the phone.
    callback_consent: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false(), default=False)
    )
    received_at: dt.datetime
    occurred_at: dt.datetime | None = None
    # Read model of what happened next, kept from other services' events.
    matter_id: str | None = Field(default=None, index=True, max_length=40)
    status: str = Field(default="received", max_length=32)
    level: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=32)  # triage's graded category (Open311 service_code)
    status_note: str | None = Field(default=None, max_length=500)
    responsible: str | None = Field(default=None, max_length=128)
    expected_at: dt.datetime | None = None
    status_seq: int = 0
    updated_at: dt.datetime


class MatterStep(Table, table=True):
    """When a matter first reached each step residents follow on the tracking page (受理 → 评价)."""

    __tablename__ = "matter_step"

    matter_id: str = Field(primary_key=True, max_length=40)
    step: str = Field(primary_key=True, max_length=16)  # graded, assigned, in_progress, done, evaluated
    community: str = Field(max_length=64)
    at: dt.datetime


class VisitCampaign(Table, table=True):
    """A door-knocking campaign (敲响邻里门) of a community for one month, over some or all of its grids."""

    __tablename__ = "visit_campaign"
    __table_args__ = (UniqueConstraint("community", "month", "name", name="uq_visit_campaign_month_name"),)

    id: str = Field(primary_key=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    name: str = Field(max_length=100)
    month: str = Field(max_length=7)  # YYYY-MM
    grids: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))  # empty: every grid
    created_by: str = Field(max_length=128)
    created_at: dt.datetime


class Visit(Table, table=True):
    """One household visited in a campaign, by whom; the door (unit and room) is encrypted at rest."""

    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("campaign_id", "household_ref", "visitor", "visited_at", name="uq_visit_once"),)

    id: str = Field(primary_key=True, max_length=40)
    campaign_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    grid: str = Field(max_length=64)
    compound: str = Field(max_length=64)
    building: str = Field(max_length=32)
    door_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # "<unit>单元<room>"
    household_ref: str = Field(index=True, max_length=64)  # pseudonym of the household's address
    visitor: str = Field(max_length=64)  # the grid member who knocked (网格员, 楼栋长, 党员)
    visitor_role: str = Field(max_length=16)
    met: bool = True  # somebody opened the door
    report_ids: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    entered_by: str = Field(max_length=128)
    visited_at: dt.datetime


class ApiKey(Table, table=True):
    """A channel adapter's API key, stored hashed, scoped to channels and communities."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    key_hash: str = Field(unique=True, max_length=64)
    channels: list[str] = Field(sa_column=Column(JSON, nullable=False))
    communities: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=128)
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class RevealRecord(Table, table=True):
    """One reveal of a reporter's contact details: a link of the community's append-only hash chain.

    Who, in which role, which report, why and when; never the phone or name itself. Never updated or deleted.
    """

    __tablename__ = "reveal_audit"
    __table_args__ = (UniqueConstraint("community", "seq", name="uq_reveal_audit_community_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    community: str = Field(index=True, max_length=64)
    seq: int
    at: dt.datetime
    actor: str = Field(index=True, max_length=128)
    role: str = Field(max_length=32)
    report_id: str = Field(index=True, max_length=40)
    reason: str = Field(max_length=16)
    revealed: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    expires_at: dt.datetime
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class RevealHead(Table, table=True):
    """The last seq and hash of each community's reveal chain: serialises writers and reveals a deleted tail."""

    __tablename__ = "reveal_audit_head"

    community: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    hash: str = Field(default="", max_length=64)


metadata = Table.metadata
bus_tables = BusTables(metadata)


class HotlineReply(Table, table=True):
    """The handling result owed back to the 12345 platform for one work order (工单回复)."""

    __tablename__ = "hotline_reply"

    order_no: str = Field(primary_key=True, max_length=64)  # 工单编号
    report_id: str = Field(index=True, max_length=40)
    community: str = Field(index=True, max_length=64)
    state: str = Field(default="open", index=True, max_length=16)  # open | completed | ready
    result: str | None = Field(default=None, max_length=2000)  # 办理结果 (scrubbed)
    unit: str | None = Field(default=None, max_length=128)  # 办理单位
    completed_at: dt.datetime | None = None  # 办结时间
    satisfaction: float | None = None  # the round's satisfaction rate
    revisit: str | None = Field(default=None, max_length=200)  # 回访情况
    due_by: dt.datetime | None = None  # 承办时限 as the order gave it
    updated_at: dt.datetime
