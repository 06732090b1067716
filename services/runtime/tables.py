"""The runtime's own tables, added to every service's metadata: outbox, inbox, subject sequences; their statements."""

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
    insert,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


class BusTables:
    """Table objects bound to one service's metadata."""

    def __init__(self, metadata: MetaData):
        existing = metadata.tables
        self._statements: dict[tuple[str, str], object] = {}
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

    # Statements built once and run with parameters: building `insert(t).values(...)` for every event cost
    # more than executing it (about 250 µs against 95 µs on SQLite), and these run for every event.

    def outbox_insert(self):
        """INSERT of outbox rows, run with a list of rows (one executemany per transaction)."""
        return self._built("outbox", "", lambda: insert(self.outbox))

    def inbox_claims(self, dialect: str):
        """INSERT … ON CONFLICT DO NOTHING RETURNING of a group's inbox rows: the rows returned are first deliveries."""

        def build():
            t = self.inbox
            return upsert(t, dialect).on_conflict_do_nothing().returning(t.c.consumer, t.c.event_id)

        return self._built("inbox-many", dialect, build)

    def next_sequence(self, dialect: str):
        """Atomic upsert handing out a subject's next sequence number (replicas never share one)."""

        def build():
            t = self.subject_seq
            ins = upsert(t, dialect)
            return ins.on_conflict_do_update(index_elements=[t.c.subject], set_={"seq": t.c.seq + 1}).returning(t.c.seq)

        return self._built("seq", dialect, build)

    def _built(self, name: str, dialect: str, build):
        key = (name, dialect)
        if key not in self._statements:
            self._statements[key] = build()
        return self._statements[key]


def upsert(table, dialect: str):
    """An INSERT that supports ON CONFLICT on `dialect` (PostgreSQL or SQLite)."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
