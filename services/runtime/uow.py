"""Unit of work: one transaction holding state changes and the events they cause (the outbox)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    ):
        self.session = session
        self.grouped = grouped
        self.tables = tables
        self.service = service
        self.cause = cause
        self.traceparent = traceparent or (cause.traceparent if cause else None)
        self.actor = actor
        self._on_commit = on_commit
        self.emitted: list[Envelope] = []

    def upsert(self, table):
        """An INSERT that supports ON CONFLICT on this session's database (PostgreSQL or SQLite)."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)

    async def _next_sequence(self, subject: str) -> int:
        t = self.tables.subject_seq
        ins = self.upsert(t)
        # One atomic upsert: concurrent replicas never hand out the same number twice.
        stmt = (
            ins.values(subject=subject, seq=1)
            .on_conflict_do_update(index_elements=[t.c.subject], set_={"seq": t.c.seq + 1})
            .returning(t.c.seq)
        )
        return int((await self.session.exec(stmt)).scalar_one())

    async def emit(self, type: str, *, community: str, subject: str | None, data: BaseModel | dict) -> Envelope:
        """Validate a payload against its contract and add it to the outbox of this transaction."""
        entry = CATALOG[type]
        payload = (
            data
            if isinstance(data, entry.model)
            else entry.model.model_validate(data.model_dump() if isinstance(data, BaseModel) else data)
        )
        sequence = await self._next_sequence(f"{type.rsplit('.', 2)[0]}:{subject}") if subject else None
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
        now = dt.datetime.now(dt.UTC)
        await self.session.exec(
            insert(self.tables.outbox).values(
                event_id=env.id,
                exchange=entry.exchange,
                routing_key=type,
                body=(body := env.to_bytes()),
                headers={SIGNATURE_HEADER: sign_event(body)},
                created_at=now,
                available_at=time.time(),
                attempts=0,
            )
        )
        self.emitted.append(env)
        return env

    async def commit(self) -> None:
        """Commit state and outbox together, then wake the relay."""
        if self.grouped:
            # Its session holds other callers' work too (GroupCommit); only the group may commit it.
            raise RuntimeError("a grouped unit of work is committed by its group, not by its work")
        await self.session.commit()
        if self.emitted:
            self._on_commit()
