"""Helpers for the bus tests: a toy "probe" service over a real database, plain AMQP peers, polling.

The probe has one state table, `effects(id, event_id)`: its handler inserts one row per handled
event, with a fresh id, so only the inbox can stop a duplicate from adding a second row.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from services.contracts import CONTENT_TYPE, EVENTS_EXCHANGE, Envelope, events
from services.runtime.bus import Bus
from services.runtime.consumer import Subscription
from services.runtime.db import Database
from services.runtime.settings import Settings
from services.runtime.signing import SIGNATURE_HEADER, sign_event
from services.runtime.tables import BusTables
from services.runtime.topology import QueueSpec, declare_exchanges
from tests.support import create_pg_database, drop_pg_database, wait_for_async

EVENT = "matter.closed.v1"
QUEUE = "probe.work"
COMMUNITY = "jinshan"


async def eventually(predicate: Callable[[], object], *, timeout: float = 20, interval: float = 0.05, what: str = ""):
    """`wait_for_async` with the bus tests' patience."""
    return await wait_for_async(predicate, timeout, interval=interval, what=what)


# --- the probe's database -------------------------------------------------------------------


@dataclass
class Store:
    """A database with the runtime's tables plus the probe's `effects` table."""

    db: Database
    tables: BusTables
    effects: Table

    async def count(self, table: Table, *where) -> int:
        """Rows of `table` matching `where`."""
        async with self.db.session() as s:
            return int((await s.exec(select(func.count()).select_from(table).where(*where))).scalar_one())

    async def effects_of(self, event_id: str) -> int:
        """How many effects one event caused."""
        return await self.count(self.effects, self.effects.c.event_id == event_id)

    async def outbox(self) -> list:
        """Every outbox row, oldest first."""
        async with self.db.session() as s:
            return list((await s.exec(select(self.tables.outbox).order_by(self.tables.outbox.c.id))).all())


def probe_metadata() -> tuple[MetaData, Table, BusTables]:
    """Fresh metadata: the toy state table plus outbox, inbox and subject sequences."""
    metadata = MetaData()
    effects = Table(
        "effects",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("event_id", String(128), nullable=False),
    )
    return metadata, effects, BusTables(metadata)


@asynccontextmanager
async def probe_store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite file or PostgreSQL database with the probe's tables; removed afterwards."""
    metadata, effects, tables = probe_metadata()
    if kind == "postgresql":
        url = await create_pg_database("hall_bus")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / f'probe-{uuid.uuid4().hex[:6]}.db'}"
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield Store(db, tables, effects)
    finally:
        await db.dispose()
        if kind == "postgresql":
            await drop_pg_database(url)


# --- the probe service ----------------------------------------------------------------------


def closed(matter_id: str) -> events.MatterClosed:
    """A valid matter.closed.v1 payload."""
    return events.MatterClosed(
        matter_id=matter_id, entry_id=f"e-{matter_id}", by="tester", closed_at=dt.datetime.now(dt.UTC)
    )


def envelope(matter_id: str, *, type: str = EVENT) -> Envelope:
    """A matter.closed.v1 envelope built by hand (for publishing straight to a queue)."""
    return Envelope.new(
        type=type, source="/services/probe", community=COMMUNITY, subject=matter_id, data=closed(matter_id)
    )


@dataclass
class Probe:
    """Calls of the probe's handler; `behave` may raise to make a call fail."""

    store: Store
    calls: list[str] = field(default_factory=list)
    behave: Callable[[Envelope, events.MatterClosed], Awaitable[None]] | None = None

    async def handler(self, uow, env: Envelope, data) -> None:
        """Record the call, maybe fail, then cause one effect in the unit of work."""
        self.calls.append(data.matter_id)
        if self.behave is not None:
            await self.behave(env, data)
        await uow.session.exec(insert(self.store.effects).values(id=uuid.uuid4().hex, event_id=env.id))

    def calls_for(self, matter_id: str) -> int:
        """How many times the handler ran for one matter."""
        return self.calls.count(matter_id)


def probe_bus(
    store: Store,
    settings: Settings,
    probe: Probe | None = None,
    *,
    retry_delays_ms: tuple[int, ...] = (200, 400),
    delivery_limit: int = 5,
) -> Bus:
    """A bus for service "probe" consuming probe.work (matter.closed.v1), or only relaying."""
    subs = []
    if probe is not None:
        spec = QueueSpec(
            QUEUE, ((EVENTS_EXCHANGE, EVENT),), retry_delays_ms=retry_delays_ms, delivery_limit=delivery_limit
        )
        subs.append(Subscription(spec, {EVENT: probe.handler}))
    return Bus(service="probe", settings=settings, db=store.db, tables=store.tables, subscriptions=subs)


@asynccontextmanager
async def running(bus: Bus) -> AsyncIterator[Bus]:
    """Start a bus, wait until it consumes, and always stop it."""
    try:
        await bus.start()
        await bus.wait_ready()
        yield bus
    finally:
        await bus.stop()


def track_deliveries(bus: Bus) -> list[AbstractIncomingMessage]:
    """Record every delivery the bus's consumers finished processing (acked or parked)."""
    done: list[AbstractIncomingMessage] = []
    for consumer in bus.consumers:
        original = consumer.on_message

        async def wrapped(message: AbstractIncomingMessage, _original=original) -> None:
            try:
                await _original(message)
            finally:
                done.append(message)

        consumer.on_message = wrapped  # type: ignore[method-assign]
    return done


async def emit(bus: Bus, matter_id: str) -> Envelope:
    """Commit one matter.closed.v1 through the bus's unit of work."""
    async with bus.uow() as uow:
        env = await uow.emit(EVENT, community=COMMUNITY, subject=matter_id, data=closed(matter_id))
        await uow.commit()
    return env


# --- plain AMQP peers -----------------------------------------------------------------------


@dataclass
class Received:
    """One message a tap saw."""

    message_id: str | None
    body: bytes
    type: str | None
    content_type: str | None
    headers: dict
    at: float  # time.perf_counter() on receipt


class Tap:
    """A plain aio-pika consumer on its own exclusive queue bound to hall.events."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._conn: aio_pika.abc.AbstractConnection | None = None

    @property
    def ids(self) -> list[str | None]:
        """Message ids in arrival order."""
        return [r.message_id for r in self.received]

    async def open(self, url: str, routing_key: str = EVENT) -> Tap:
        """Declare the exchanges and the tap's queue, and start counting."""
        self._conn = await aio_pika.connect(url)
        ch = await self._conn.channel()
        exchanges = await declare_exchanges(ch)
        queue = await ch.declare_queue(f"tap.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
        await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key=routing_key)
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def _on_message(self, m: AbstractIncomingMessage) -> None:
        self.received.append(
            Received(m.message_id, m.body, m.type, m.content_type, dict(m.headers or {}), time.perf_counter())
        )

    async def close(self) -> None:
        """Close the tap's connection (its queue goes with it)."""
        if self._conn is not None:
            await self._conn.close()


@asynccontextmanager
async def tap(url: str, routing_key: str = EVENT) -> AsyncIterator[Tap]:
    """A Tap that is always closed."""
    t = Tap()
    try:
        yield await t.open(url, routing_key)
    finally:
        await t.close()


async def publish_raw(
    url: str,
    queue: str,
    body: bytes,
    *,
    message_id: str,
    copies: int = 1,
    content_type: str = CONTENT_TYPE,
    sign: bool = True,
    **props,
) -> None:
    """Publish bytes straight to a queue (default exchange) with confirms, `copies` times, signed like a service."""
    if sign:
        props["headers"] = {**props.get("headers", {}), SIGNATURE_HEADER: sign_event(body)}
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        for _ in range(copies):
            msg = aio_pika.Message(
                body,
                message_id=message_id,
                content_type=content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                **props,
            )
            await ch.default_exchange.publish(msg, routing_key=queue, mandatory=True)
    finally:
        await conn.close()


@dataclass
class Parked:
    """One message resting in a queue, read without removing it."""

    message_id: str | None
    headers: dict
    body: bytes


async def peek(url: str, queue: str) -> list[Parked]:
    """Read every message of a queue without removing it (closing the channel returns them)."""
    conn = await aio_pika.connect(url)
    out: list[Parked] = []
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        while (m := await q.get(no_ack=False, fail=False)) is not None:
            out.append(Parked(m.message_id, dict(m.headers or {}), m.body))
        await ch.close()
    finally:
        await conn.close()
    return out


async def drain(url: str, queue: str) -> list[str | None]:
    """Take (and ack) every message of a queue; return their message ids."""
    conn = await aio_pika.connect(url)
    ids: list[str | None] = []
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        while (m := await q.get(no_ack=True, fail=False)) is not None:
            ids.append(m.message_id)
    finally:
        await conn.close()
    return ids
