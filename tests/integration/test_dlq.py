"""Dead-lettered messages can be listed with reason and origin, and replayed once the cause is fixed."""

from __future__ import annotations

import pytest

from services.runtime import dlq
from tests.integration.bus_kit import QUEUE, Probe, emit, eventually, probe_bus, probe_store, running

pytestmark = pytest.mark.integration


async def listed(url: str, expected: set[str]) -> list[dlq.DeadLetter] | bool:
    """list_dead, once it shows exactly `expected` (returned messages come back asynchronously).

    Returns the list (or True for an empty DLQ) when it matches, False otherwise.
    """
    dead = await dlq.list_dead(url, QUEUE)
    if {d.event_id for d in dead} == expected and len(dead) == len(expected):
        return dead or True
    return False


async def replay_until(url: str, *, event_id: str | None, expected: int) -> int:
    """Replay until `expected` messages moved (a message another reader just returned may lag)."""
    moved = 0

    async def step():
        nonlocal moved
        moved += await dlq.replay(url, QUEUE, event_id=event_id)
        return moved >= expected

    await eventually(step, interval=0.2, what=f"replay of {expected}")
    return moved


async def test_list_and_replay_dead_letters(hall_env, tmp_path):
    url = hall_env.amqp_url
    broken = True

    async def behave(env, data):
        if broken:
            raise RuntimeError("downstream unavailable")

    async with probe_store("sqlite", tmp_path) as store:
        probe = Probe(store, behave=behave)
        async with running(probe_bus(store, hall_env, probe, retry_delays_ms=(100,))) as bus:
            a = await emit(bus, "a")
            b = await emit(bus, "b")

            dead = await eventually(lambda: listed(url, {a.id, b.id}), what="both events dead-lettered")
            for d in dead:
                assert d.queue == f"{QUEUE}.dlq"
                assert d.origin == QUEUE
                assert d.type == "matter.closed.v1"
                assert d.reason == "failed 2 times: RuntimeError('downstream unavailable')"
            assert probe.calls_for("a") == probe.calls_for("b") == 2
            # Listing does not consume: the messages are still there.
            await eventually(lambda: listed(url, {a.id, b.id}), what="listing left them in place")
            assert await dlq.depth(url, QUEUE) == 2

            broken = False  # the cause is fixed

            # Replaying one id moves only that one.
            assert await replay_until(url, event_id=a.id, expected=1) == 1
            await eventually(lambda: store.effects_of(a.id), what="replayed event handled")
            await eventually(lambda: listed(url, {b.id}), what="only b left in the DLQ")
            assert await store.effects_of(b.id) == 0

            # Replaying the rest empties the DLQ.
            assert await replay_until(url, event_id=None, expected=1) == 1
            await eventually(lambda: store.effects_of(b.id), what="second replayed event handled")
            assert await eventually(lambda: listed(url, set()), what="DLQ empty") is True
            assert await dlq.depth(url, QUEUE) == 0
            assert await dlq.replay(url, QUEUE) == 0

            assert await store.effects_of(a.id) == 1 and await store.effects_of(b.id) == 1
            assert probe.calls_for("a") == probe.calls_for("b") == 3
            assert await store.count(store.tables.inbox) == 2
