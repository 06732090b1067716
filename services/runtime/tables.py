"""The runtime's own tables, added to every service's metadata: outbox, inbox, subject sequences."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)


class BusTables:
    """Table objects bound to one service's metadata."""

    def __init__(self, metadata: MetaData):
        existing = metadata.tables
        if "outbox" in existing:
            self.outbox, self.inbox, self.subject_seq = (existing["outbox"], existing["inbox"], existing["subject_seq"])
            return
        self.outbox = Table(
            "outbox",
            metadata,
            Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
            Column("event_id", String(128), nullable=False, unique=True),
            Column("exchange", String(64), nullable=False),
            Column("routing_key", String(128), nullable=False),
            Column("body", LargeBinary, nullable=False),
            Column("headers", JSON, nullable=False, default=dict),
            Column("created_at", DateTime(timezone=True), nullable=False),
            # Epoch seconds when the row may next be claimed: now for new rows, lease end while a
            # relay holds it, backoff end after a failed or returned publish.
            Column("available_at", Float, nullable=False),
            Column("claim", String(64), nullable=True),
            Column("attempts", Integer, nullable=False, default=0),
            Column("last_error", String(500), nullable=True),
            Column("sent_at", DateTime(timezone=True), nullable=True),
        )
        Index("ix_outbox_pending", self.outbox.c.sent_at, self.outbox.c.available_at, self.outbox.c.id)
        Index("ix_outbox_claim", self.outbox.c.claim)
        self.inbox = Table(
            "inbox",
            metadata,
            Column("consumer", String(128), primary_key=True),
            Column("event_id", String(128), primary_key=True),
            Column("event_type", String(100), nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False, index=True),
        )
        self.subject_seq = Table(
            "subject_seq",
            metadata,
            Column("subject", String(160), primary_key=True),
            Column("seq", BigInteger, nullable=False),
        )
