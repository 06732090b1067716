"""Live UI hints: a private, auto-deleted queue on hall.events fanned out to Server-Sent Events streams.

Not a system of record: a console that is down misses hints, and pages reload their data from the
services anyway, so the queue is exclusive and auto-deleted rather than a durable quorum queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.contracts import EVENTS_EXCHANGE
from services.runtime import amqp
from services.runtime.auth import Principal
from services.runtime.topology import declare_exchanges

log = logging.getLogger(__name__)

# The envelope attributes a hint carries: what happened to which subject in which community, no payload.
HINT_FIELDS = ("id", "type", "subject", "community", "time")
SUBSCRIBER_BUFFER = 200
HEARTBEAT_S = 15.0
LIVE_QUEUE_PREFIX = "console.live."


def hint_of(body: bytes) -> dict | None:
    """The hint a browser may see for one event: envelope attributes only (payloads stay server-side)."""
    try:
        env = json.loads(body)
    except ValueError:
        return None
    if not isinstance(env, dict) or not isinstance(env.get("type"), str) or not isinstance(env.get("community"), str):
        return None
    return {k: env.get(k) for k in HINT_FIELDS}


@dataclass(eq=False)
class Subscriber:
    """One open SSE stream: who is listening and for which communities."""

    principal: Principal
    community: str | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_BUFFER))
    dropped: int = 0

    def wants(self, hint: dict) -> bool:
        """Tell whether this stream should receive a hint (scope first, then the chosen community)."""
        community = hint["community"]
        if not self.principal.sees(community):
            return False
        return self.community is None or self.community == community


class LiveHub:
    """Consume hall.events on an exclusive auto-delete queue and fan each hint out to the subscribers."""

    def __init__(self, amqp_urls: str | list[str]):
        # One URL per broker node (HALL_AMQP_NODES); the connection fails over between them.
        self.amqp_urls = [amqp_urls] if isinstance(amqp_urls, str) else list(amqp_urls)
        self.subscribers: set[Subscriber] = set()
        self._conn: AbstractRobustConnection | None = None
        self._task: asyncio.Task | None = None
        self._consuming = asyncio.Event()

    @property
    def is_connected(self) -> bool:
        """Tell whether the broker connection is up and the queue is consumed."""
        return self._conn is not None and not self._conn.is_closed and self._consuming.is_set()

    async def start(self) -> None:
        """Connect in the background (a broker outage must not stop the console from serving pages)."""
        self._task = asyncio.create_task(self._run(), name="console.live")

    async def _run(self) -> None:
        while True:
            try:
                self._conn = await amqp.connect_robust(self.amqp_urls, name="console")
                self._conn.reconnect_callbacks.add(lambda *_: self._consuming.set())
                channel = await self._conn.channel()
                await channel.set_qos(prefetch_count=256)
                exchanges = await declare_exchanges(channel)
                # Exclusive, auto-delete: one per console replica, gone when it disconnects. Named under
                # `console.live.` so the console's broker user may declare it and nothing else.
                name = f"{LIVE_QUEUE_PREFIX}{uuid.uuid4().hex}"
                queue = await channel.declare_queue(name, exclusive=True, auto_delete=True, durable=False)
                await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key="#")
                await queue.consume(self._on_message, no_ack=True)
                self._consuming.set()
                log.info("console.live.consuming queue=%s", queue.name)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker down at start: keep trying, pages still work
                log.warning("console.live.connect_failed error=%s", exc)
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    self._conn = None
                await asyncio.sleep(2)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        hint = hint_of(message.body)
        if hint is not None:
            self.publish(hint)

    def publish(self, hint: dict) -> None:
        """Give a hint to every subscriber that may see it; a slow subscriber loses hints, never blocks."""
        for sub in list(self.subscribers):
            if sub.wants(hint):
                try:
                    sub.queue.put_nowait(hint)
                except asyncio.QueueFull:
                    sub.dropped += 1

    async def stream(self, principal: Principal, community: str | None, disconnected) -> AsyncIterator[str]:
        """Yield SSE frames for one subscriber until the client goes away."""
        sub = Subscriber(principal, community)
        self.subscribers.add(sub)
        try:
            yield "retry: 3000\n\n"
            while not await disconnected():
                try:
                    hint = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {hint['id']}\nevent: hint\ndata: {json.dumps(hint, ensure_ascii=False)}\n\n"
        finally:
            self.subscribers.discard(sub)

    async def stop(self) -> None:
        """Stop consuming and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
