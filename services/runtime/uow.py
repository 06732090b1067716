"""Unit of work: one transaction holding state changes and the events they cause (the outbox)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import CATALOG, Envelope
from services.runtime.signing import SIGNATURE_HEADER, sign_event
from services.runtime.tables import BusTables


class UnitOfWork:
    """A session plus `emit`; events are written to the outbox in the same transaction."""

    def __init__(
        self,
        session: AsyncSession,
        tables: BusTables,
        *,
        service: str,
        on_commit: Callable[[], None],
        cause: Envelope | None = None,
        traceparent: str | None = None,
        actor: str | None = None,
        grouped: bool = False,
        first_delivery: bool = True,
    ):
        self.session = session
        self.grouped = grouped
        self.first_delivery = first_delivery  # False: the inbox already held this delivery (its group claimed it)
        self.tables = tables
        self.service = service
        self.cause = cause
        self.traceparent = traceparent or (cause.traceparent if cause else None)
        self.actor = actor
        self._on_commit = on_commit
        self.emitted: list[Envelope] = []
        self._outbox: list[dict] = []  # rows not yet written: one statement for all of them before the commit
        self.after: list[Callable[[], None]] = []  # called once the transaction committed (never on rollback)

    @property
    def dialect(self) -> str:
        """'postgresql' or 'sqlite': the database this unit of work writes to."""
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def _next_sequence(self, subject: str) -> int:
        stmt = self.tables.next_sequence(self.dialect)
        # The sequence table is no ORM row's: flushing the session first would only write it earlier, and
        # the ledger writes its new rows without the ORM's flush (issue 23).
        with self.session.no_autoflush:
            return int((await self.session.exec(stmt, params={"subject": subject, "seq": 1})).scalar_one())

    async def emit(self, type: str, *, community: str, subject: str | None, data: BaseModel | dict) -> Envelope:
        """Validate a payload against its contract and add it to the outbox of this transaction."""
        entry = CATALOG[type]
        if entry.replaced_by:
            raise ValueError(f"{type} is an old name kept for consumers only: emit {entry.replaced_by}")
        payload = (
            data
            if isinstance(data, entry.model)
            else entry.model.model_validate(data.model_dump() if isinstance(data, BaseModel) else data)
        )
        sequence = await self._next_sequence(f"{entry.sequence_stream}:{subject}") if subject else None
        env = Envelope.new(
            type=type,
            source=f"/services/{self.service}",
            community=community,
            subject=subject,
            data=payload,
            correlationid=self.cause.correlationid if self.cause else None,
            causationid=self.cause.id if self.cause else None,
            traceparent=self.traceparent,
            sequence=sequence,
        )
        row = {
            "event_id": env.id,
            "exchange": entry.exchange,
            "routing_key": type,
            "body": (body := env.to_bytes()),
            "headers": {SIGNATURE_HEADER: sign_event(body)},
            "created_at": dt.datetime.now(dt.UTC),
            "available_at": time.time(),
            "attempts": 0,
        }
        if self.session.in_nested_transaction():
            # Written now, inside the savepoint, so a rollback to it takes the event too. Rows emitted before
            # the savepoint would be taken with it: `savepoint()` writes those first.
            if self._outbox:
                raise RuntimeError("events emitted before this savepoint are unwritten: open it with uow.savepoint()")
            await write_outbox(self.session, self.tables, [row])
        else:
            self._outbox.append(row)
        self.emitted.append(env)
        return env

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A SAVEPOINT for this unit of work: events emitted before it stay if it is rolled back."""
        await self.write_outbox()
        async with self.session.begin_nested():
            yield

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit's transaction has committed (e.g. wake a delivery loop)."""
        self.after.append(callback)

    def take_outbox(self) -> list[dict]:
        """The outbox rows emitted and not yet written (the caller writes them)."""
        rows, self._outbox = self._outbox, []
        return rows

    async def write_outbox(self) -> None:
        """Write the emitted rows to the outbox in this transaction."""
        await write_outbox(self.session, self.tables, self.take_outbox())

    async def commit(self) -> None:
        """Commit state and outbox together, then wake the relay."""
        if self.grouped:
            # Its session holds other callers' work too (GroupCommit); only the group may commit it.
            raise RuntimeError("a grouped unit of work is committed by its group, not by its work")
        await self.write_outbox()
        await self.session.commit()
        if self.emitted:
            self._on_commit()
        run_after(self.after)


def run_after(callbacks: list[Callable[[], None]]) -> None:
    """Run after-commit callbacks; they only wake things up, so none may undo or fail the commit."""
    for callback in callbacks:
        callback()


async def write_outbox(session: AsyncSession, tables: BusTables, rows: list[dict], lease: dict | None = None) -> None:
    """Insert outbox rows in one statement (executemany; one multi-row INSERT on PostgreSQL).

    With a relay's `lease` the rows are written already claimed, for that relay to publish after the commit.
    """
    if lease:
        for row in rows:
            row.update(lease)
    if rows:
        await session.exec(tables.outbox_insert(), params=rows)
