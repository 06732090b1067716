"""A bus given several broker nodes starts on any that answers and moves to another after losing its node."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from services.runtime.amqp import FailoverConnection
from tests.e2e.faultproxy import FaultProxy
from tests.integration.bus_kit import Probe, emit, eventually, probe_bus, probe_store, running

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def _broker_port(settings) -> int:
    return urlparse(settings.amqp_url).port or 5672


async def test_the_first_node_down_the_next_one_serves(hall_env, tmp_path):
    settings = hall_env.model_copy(
        update={"amqp_nodes": f"127.0.0.1:{_closed_port()}, 127.0.0.1:{_broker_port(hall_env)}"}
    )
    async with probe_store("sqlite", tmp_path) as store:
        probe = Probe(store)
        async with running(probe_bus(store, settings, probe)) as bus:
            assert isinstance(bus.connection, FailoverConnection)
            assert bus.connection.node == 1
            env = await emit(bus, "second-node")
            await eventually(lambda: store.effects_of(env.id), timeout=30, what="the event handled")


async def test_losing_its_node_the_bus_consumes_and_publishes_through_another(hall_env, tmp_path):
    # Node 0 is a proxy to the broker: stopping it is a node gone for good (connections dropped, none accepted).
    proxy = FaultProxy(upstream_port=_broker_port(hall_env)).start()
    settings = hall_env.model_copy(update={"amqp_nodes": f"127.0.0.1:{proxy.port},127.0.0.1:{_broker_port(hall_env)}"})
    try:
        async with probe_store("sqlite", tmp_path) as store:
            probe = Probe(store)
            async with running(probe_bus(store, settings, probe)) as bus:
                assert bus.connection.node == 0
                before = await emit(bus, "before")
                await eventually(lambda: store.effects_of(before.id), timeout=30, what="handled via node 0")
                proxy.stop()
                await eventually(lambda: bus.connection.node == 1 and bus.is_connected, timeout=30, what="failover")
                after = await emit(bus, "after")
                await eventually(lambda: store.effects_of(after.id), timeout=30, what="handled via node 1")
                assert probe.calls_for("after") == 1
    finally:
        proxy.stop()
