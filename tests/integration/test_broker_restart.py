"""A broker outage delays events, never loses them; consumers come back by themselves.

These tests stop the machine's RabbitMQ application (`rabbitmqctl stop_app`): every vhost is
affected while it is down, so the outage is kept short and the broker is always started again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest

from services.contracts import EVENTS_EXCHANGE
from services.runtime.topology import declare_exchanges
from tests.integration.bus_kit import (
    EVENT,
    QUEUE,
    Probe,
    drain,
    emit,
    envelope,
    eventually,
    probe_bus,
    probe_store,
    publish_raw,
    running,
)
from tests.support import rabbitmqctl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

COUNT_QUEUE = "probe.restart"


@asynccontextmanager
async def broker_down() -> AsyncIterator[None]:
    """Stop the RabbitMQ application; always start it again and wait until it is up."""
    await asyncio.to_thread(rabbitmqctl, "stop_app")
    try:
        yield
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
        await asyncio.to_thread(rabbitmqctl, "await_startup")


async def declare_count_queue(url: str) -> None:
    """A durable quorum queue bound to hall.events: it keeps its messages across the restart."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        exchanges = await declare_exchanges(ch)
        q = await ch.declare_queue(COUNT_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await q.bind(exchanges[EVENTS_EXCHANGE], routing_key=EVENT)
    finally:
        await conn.close()


async def test_events_committed_while_broker_down_are_published_after(hall_env, tmp_path):
    url = hall_env.amqp_url
    await declare_count_queue(url)
    async with probe_store("sqlite", tmp_path) as store:
        async with running(probe_bus(store, hall_env)) as bus:
            before = await emit(bus, "before")  # the relay has a live channel when the broker goes
            await eventually(lambda: _pending_is(bus, 0), what="first event published")

            committed = []
            async with broker_down():
                for i in range(50):
                    committed.append((await emit(bus, f"m{i}")).id)  # commits succeed without a broker
                assert await bus.relay.pending() == 50

            back = time.monotonic()
            await eventually(lambda: _pending_is(bus, 0), timeout=120, interval=0.2, what="outbox drained")
            print(f"\noutbox drained {time.monotonic() - back:.1f}s after the broker came back")
            # Each row is marked sent only after its confirm, so every event is in the queue now.
            received = Counter(await drain(url, COUNT_QUEUE))
            assert set(received) == {before.id, *committed}
            assert [i for i, n in received.items() if n != 1] == []


async def test_consumer_resumes_after_broker_restart(hall_env, tmp_path):
    url = hall_env.amqp_url
    async with probe_store("sqlite", tmp_path) as store:
        probe = Probe(store)
        async with running(probe_bus(store, hall_env, probe)) as bus:
            first = await emit(bus, "first")
            await eventually(lambda: store.effects_of(first.id), what="handled before the restart")

            async with broker_down():
                await eventually(lambda: not bus.is_connected, what="bus notices the outage")
            await eventually(lambda: bus.is_connected, timeout=60, what="bus reconnects")

            # Published through the outbox after the restart...
            after = [await emit(bus, f"after{i}") for i in range(5)]
            # ...and straight to the queue.
            direct = envelope("direct")
            await publish_raw(url, QUEUE, direct.to_bytes(), message_id=direct.id, type=EVENT)

            for env in [*after, direct]:
                await eventually(lambda env=env: store.effects_of(env.id), timeout=60, what=f"{env.subject} handled")
            assert sorted(probe.calls) == sorted(["first", *(f"after{i}" for i in range(5)), "direct"])
            assert await store.count(store.effects) == 7
            assert await drain(url, f"{QUEUE}.dlq") == []


async def _pending_is(bus, n: int) -> bool:
    return await bus.relay.pending() == n
