"""The bus of one service process: robust connection, consumers, outbox relay, unit-of-work factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aio_pika.abc import AbstractRobustConnection

from services.contracts import Envelope
from services.runtime import amqp
from services.runtime.batch import GroupCommit, Work
from services.runtime.consumer import STOP_STEP_S, Consumer, Subscription
from services.runtime.db import Database
from services.runtime.relay import Relay
from services.runtime.settings import Settings
from services.runtime.tables import BusTables
from services.runtime.topology import declare_exchanges
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)


class Bus:
    """Everything one process needs to publish and consume reliably."""

    def __init__(
        self, *, service: str, settings: Settings, db: Database, tables: BusTables, subscriptions: list[Subscription]
    ):
        self.service, self.settings, self.db, self.tables = service, settings, db, tables
        self.subscriptions = subscriptions
        self.connection: AbstractRobustConnection | None = None
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.consumers: list[Consumer] = []
        self.relay = Relay(
            db,
            tables,
            self.get_connection,
            service=service,
            batch=settings.relay_batch,
            poll_ms=settings.relay_poll_ms,
            lease_s=settings.relay_lease_s,
            retention_hours=settings.outbox_retention_hours,
            instance=settings.instance_of(service),
        )
        workers = settings.group_commit_workers or (1 if db.dialect == "sqlite" else 4)
        self.group = GroupCommit(
            db,
            tables,
            service=service,
            on_commit=self.relay.notify,
            max_batch=settings.group_commit_max,
            workers=workers,
            relay=self.relay,
        )

    async def run(
        self,
        work: Work,
        *,
        cause: Envelope | None = None,
        traceparent: str | None = None,
        actor: str | None = None,
        inbox: str | None = None,
    ):
        """Run `work(uow)` in a transaction shared with concurrent callers; its result once committed.

        `inbox`: the consumer whose delivery of `cause` this is, claimed in the same transaction (GroupCommit).
        """
        return await self.group.run(work, cause=cause, traceparent=traceparent, actor=actor, inbox=inbox)

    async def get_connection(self) -> AbstractRobustConnection:
        """The robust connection, once established."""
        await self._connected.wait()
        assert self.connection is not None
        return self.connection

    @property
    def is_connected(self) -> bool:
        """Tell whether the broker connection is open and every consumer is declared."""
        # A robust connection is "closed" only once close() is called; while it reconnects after
        # losing the broker, only its `connected` event tells the truth.
        # Not before every consumer is declared and consuming (readiness must mean "handling events").
        conn = self.connection
        return self._connected.is_set() and conn is not None and not conn.is_closed and conn.connected.is_set()

    @asynccontextmanager
    async def uow(
        self, *, cause: Envelope | None = None, traceparent: str | None = None, actor: str | None = None
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work whose commit wakes this process's relay."""
        async with self.db.session() as session:
            yield UnitOfWork(
                session,
                self.tables,
                service=self.service,
                on_commit=self.relay.notify,
                cause=cause,
                traceparent=traceparent,
                actor=actor,
            )

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._connect_once()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Also when the link breaks while consumers are being declared: a robust connection restores
                # only what was fully set up, so start again from a new connection rather than half-consuming.
                log.warning(
                    "bus.connect_failed nodes=%s error=%r retry_in=%.1fs",
                    ",".join(amqp.redact(u) for u in self.settings.amqp_urls_for(self.service)),
                    exc,
                    delay,
                )
                await self._discard_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        self._connected.set()
        log.info("bus.connected service=%s queues=%s", self.service, [s.spec.name for s in self.subscriptions])

    async def _connect_once(self) -> None:
        # Every node of the cluster (HALL_AMQP_NODES) in turn; after losing one, the next (services/runtime/amqp.py).
        self.connection = await amqp.connect_robust(
            self.settings.amqp_urls_for(self.service), name=f"hall-{self.service}", reconnect_interval=1
        )
        async with self.connection.channel() as ch:
            await declare_exchanges(ch)
        for sub in self.subscriptions:
            consumer = Consumer(sub, service=self.service, run=self.run, prefetch=self.settings.prefetch)
            await consumer.start(self.connection)
            self.consumers.append(consumer)

    async def _discard_connection(self) -> None:
        self.consumers = []
        conn, self.connection = self.connection, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # it is broken already; closing is only to stop its reconnect loop
                pass

    async def start(self, *, consume: bool = True, relay: bool = True) -> None:
        """Connect in the background (HTTP serves meanwhile), then consume and relay."""
        if not consume:
            self.subscriptions = []
        self._tasks.append(asyncio.create_task(self._connect(), name=f"{self.service}-connect"))
        if relay:
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.service}-relay"))

    async def wait_ready(self, timeout: float = 30) -> None:
        """Wait until the connection is up and the consumers are declared."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def stop(self) -> None:
        """Stop consuming first, let in-flight handlers finish, flush the outbox, then close."""
        await asyncio.gather(*(c.stop() for c in self.consumers), return_exceptions=True)
        for task in self._tasks:
            if task.get_name().endswith("-relay"):
                continue
            task.cancel()
        # Graceful: give the relay a moment to publish what the last handlers committed.
        try:
            if self.is_connected:
                await asyncio.wait_for(self._drain(), timeout=5)
        except (TimeoutError, Exception):
            log.warning("bus.stop_drain_incomplete service=%s", self.service)
        for task in self._tasks:
            task.cancel()
        # Every step is bounded: a stuck broker or database call must not keep the process from exiting.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_STEP_S)
        await self.group.close(STOP_STEP_S)
        if self.connection is not None:
            try:
                await asyncio.wait_for(self.connection.close(), STOP_STEP_S)
            except Exception:
                log.warning("bus.connection_close_failed service=%s", self.service)

    async def _drain(self) -> None:
        await self.relay.settle()
        while await self.relay.run_once():
            pass
