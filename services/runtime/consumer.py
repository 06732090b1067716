"""The idempotent consumer: inbox row + state change + outbox in one transaction, ack after commit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import BaseModel
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from services.contracts import (
    CATALOG,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    RETRY_EXCHANGE,
    ContractError,
    Envelope,
    parse,
)
from services.runtime import metrics
from services.runtime.acks import Acks
from services.runtime.signing import SIGNATURE_HEADER, event_signed
from services.runtime.topology import QueueSpec, declare_queue
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Envelope, BaseModel], Awaitable[None]]
ATTEMPT_HEADER = "x-hall-attempt"
REASON_HEADER = "x-hall-reason"
QUEUE_HEADER = "x-hall-queue"
# Channel adapters publish raw channel messages without the services' key; intake validates those itself.
UNSIGNED_TYPES = frozenset({"channel.message.v1"})


DB_PATIENCE_S = 120.0
STOP_STEP_S = 5.0  # the longest any one step of a graceful stop may wait on the broker


def database_unavailable(exc: BaseException | None) -> bool:
    """Tell whether an error means the database is away (restart, lost connection, lock), not a bad message."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, ConnectionError, OSError)):
            return True
        if getattr(exc, "connection_invalidated", False) or type(exc).__name__ in _FAILOVER_ERRORS:
            return True
        if str(getattr(exc, "sqlstate", "") or "").startswith(("08", "57P")):  # connection / operator intervention
            return True
        exc = exc.__cause__
    return False


# asyncpg's errors while a multi-host URL's servers change roles (a standby being promoted): the only server
# up still refuses writes, or is starting up. Not the message's fault: wait for the new primary.
_FAILOVER_ERRORS = frozenset(
    {"TargetServerAttributeNotMatched", "CannotConnectNowError", "ReadOnlySQLTransactionError"}
)


class Reject(Exception):
    """Raised by a handler for a message that can never succeed (e.g. it claims another tenant)."""


@dataclass
class Subscription:
    """One queue and the handlers of the event types bound to it."""

    spec: QueueSpec
    handlers: dict[str, Handler]


def with_old_names(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """The handlers plus, for a renamed event type, its old name with the same handler (kept for one release)."""
    old = {t: handlers[e.replaced_by] for t, e in CATALOG.items() if e.replaced_by in handlers and t not in handlers}
    return handlers | old


def subscribe(name: str, handlers: dict[str, Handler], settings, *, exchange: str = EVENTS_EXCHANGE) -> Subscription:
    """One queue bound to every event type it handles (routing key = type), with the settings' retry policy."""
    handlers = with_old_names(handlers)
    spec = QueueSpec(
        name,
        tuple((exchange, t) for t in handlers),
        tuple(settings.retry_delays_ms),
        settings.delivery_limit,
        settings.quorum_group_size,
    )
    return Subscription(spec, dict(handlers))


class Consumer:
    """Consumes one queue for a service; survives broker restarts through the robust connection."""

    def __init__(self, sub: Subscription, *, service: str, run, prefetch: int):
        # `run(work, cause=...)` runs work(uow) in a committed transaction (Bus.run: group commit).
        self.sub, self.service, self.run, self.prefetch = sub, service, run, prefetch
        self.channel: AbstractChannel | None = None
        self._pub_channel: AbstractChannel | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self._tag: str | None = None
        self.inflight = 0
        self.acks = Acks()

    async def start(self, connection: aio_pika.abc.AbstractRobustConnection) -> None:
        """Declare the topology and start consuming."""
        self.channel = await connection.channel()
        await self.channel.set_qos(prefetch_count=self.prefetch)
        queue = await declare_queue(self.channel, self.sub.spec)
        # A separate confirming channel: retry/DLQ copies must be safely stored before we ack.
        self._pub_channel = await connection.channel(publisher_confirms=True)
        self._queue = queue
        self._tag = await queue.consume(self._guarded)

    async def _guarded(self, message: AbstractIncomingMessage) -> None:
        self.inflight += 1
        try:
            await self.on_message(message)
        finally:
            self.inflight -= 1

    async def stop(self, grace_s: float = 10) -> None:
        """Stop taking deliveries, let in-flight handlers finish (and ack), then close the channels."""
        if self._queue is not None and self._tag is not None and self.channel and not self.channel.is_closed:
            try:
                # Bounded: a broker that stopped answering must not hold the process's shutdown forever.
                await asyncio.wait_for(self._queue.cancel(self._tag), STOP_STEP_S)
            except Exception:  # the channel may already be gone; unacked messages return to the queue
                pass
        waited = 0.0
        while self.inflight and waited < grace_s:
            await asyncio.sleep(0.05)
            waited += 0.05
        await self.acks.drain()
        for ch in (self.channel, self._pub_channel):
            if ch is not None and not ch.is_closed:
                try:
                    await asyncio.wait_for(ch.close(), STOP_STEP_S)
                except Exception:  # closing the connection closes it anyway
                    log.warning("consumer.channel_close_failed queue=%s", self.sub.spec.name)

    async def _forward(self, message: AbstractIncomingMessage, exchange: str, key: str, headers: dict) -> None:
        assert self._pub_channel is not None
        ex = await self._pub_channel.get_exchange(exchange, ensure=False)
        copy = aio_pika.Message(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.type,
            app_id=message.app_id,
            headers={**(message.headers or {}), **headers},
        )
        await ex.publish(copy, routing_key=key, mandatory=True, timeout=10)

    async def dead_letter(self, message: AbstractIncomingMessage, why: str, reason: str) -> None:
        """Move a message to this queue's DLQ with the reason in a header, then ack it."""
        name = self.sub.spec.name
        await self._forward(message, DEAD_LETTER_EXCHANGE, name, {REASON_HEADER: reason[:900], QUEUE_HEADER: name})
        self.acks.ack(message)
        metrics.child(metrics.DEAD_LETTERED, self.service, name, why).inc()
        log.warning("consumer.dead_lettered queue=%s id=%s why=%s reason=%s", name, message.message_id, why, reason)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery; never raises (a consumer must not crash on a bad message)."""
        name = self.sub.spec.name
        try:
            env, data = parse(message.body)
        except ContractError as exc:
            await self.dead_letter(message, "schema", f"schema: {exc.reason}")
            return
        if env.type not in UNSIGNED_TYPES and not event_signed(
            message.body, (message.headers or {}).get(SIGNATURE_HEADER)
        ):
            # Only the platform's services can sign; anyone else with broker access cannot forge domain events.
            await self.dead_letter(message, "forged", f"forged: missing or invalid {SIGNATURE_HEADER} on {env.type}")
            return
        handler = self.sub.handlers.get(env.type)
        if handler is None:
            await self.dead_letter(message, "unknown_type", f"no handler for {env.type} on {name}")
            return
        started = time.perf_counter()
        delay, waited = 0.5, 0.0
        while True:
            try:
                result = await self._handle(env, data, handler)
                break
            except Reject as exc:
                await self.dead_letter(message, "rejected", f"rejected: {exc}")
                return
            except Exception as exc:
                if database_unavailable(exc) and waited < DB_PATIENCE_S:
                    # The database is restarting or locked: not the message's fault, so wait for it here
                    # (the delivery stays unacked) instead of spending the message's retries.
                    log.warning(
                        "consumer.database_unavailable queue=%s id=%s retry_in=%.1fs error=%s",
                        name,
                        env.id,
                        delay,
                        type(exc).__name__,
                    )
                    await asyncio.sleep(delay)
                    waited, delay = waited + delay, min(delay * 2, 5.0)
                    continue
                log.exception("consumer.handler_failed queue=%s id=%s type=%s", name, env.id, env.type)
                await self._retry_or_dead_letter(message, exc)
                return
        self.acks.ack(message)  # after the commit; sent with the others that commit answered
        metrics.child(metrics.HANDLER_SECONDS, self.service, name).observe(time.perf_counter() - started)
        metrics.child(metrics.CONSUMED, self.service, name, env.type, result).inc()

    async def _handle(self, env: Envelope, data: BaseModel, handler: Handler) -> str:
        async def work(uow: UnitOfWork) -> str:
            if not uow.first_delivery:
                return "duplicate"  # the inbox row exists: this delivery's effects are already committed
            await handler(uow, env, data)
            return "ok"

        # The group claims the inbox row (consumer, event id) in the same transaction, before `work` runs.
        return await self.run(work, cause=env, inbox=self.sub.spec.name)

    async def _retry_or_dead_letter(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        spec = self.sub.spec
        attempt = int(str((message.headers or {}).get(ATTEMPT_HEADER, 0) or 0))
        try:
            if attempt < len(spec.retry_delays_ms):
                delay = spec.retry_delays_ms[attempt]
                await self._forward(message, RETRY_EXCHANGE, spec.retry_queue(delay), {ATTEMPT_HEADER: attempt + 1})
                self.acks.ack(message)
                metrics.child(metrics.RETRIED, self.service, spec.name).inc()
            else:
                await self.dead_letter(message, "exhausted", f"failed {attempt + 1} times: {exc!r}")
        except Exception:
            # Could not park it safely: give it back; x-delivery-limit bounds the loop.
            log.exception("consumer.retry_publish_failed queue=%s", spec.name)
            await message.nack(requeue=True)
            self.acks.settled(message)
