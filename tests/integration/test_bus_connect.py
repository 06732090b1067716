"""Starting to consume survives the broker link breaking at any point of the set-up (through a TCP proxy)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.e2e.faultproxy import FaultProxy
from tests.integration.bus_kit import Probe, emit, eventually, probe_bus, probe_store, running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("cut_after", [600, 1200, 1800, 2400])
async def test_a_link_cut_during_set_up_ends_consuming_anyway(hall_env, tmp_path, cut_after):
    # Bytes into the connection: the handshake, then exchanges, queues, retry queues, consumers. A cut
    # anywhere there must not leave a process that serves HTTP but never consumes (it did, once).
    proxy = FaultProxy().start()
    proxy.cut_after = cut_after
    u = urlparse(hall_env.amqp_url)
    settings = hall_env.model_copy(
        update={"amqp_url": u._replace(netloc=f"{u.username}:{u.password}@127.0.0.1:{proxy.port}").geturl()}
    )
    try:
        async with probe_store("sqlite", tmp_path) as store:
            probe = Probe(store)
            async with running(probe_bus(store, settings, probe)) as bus:
                assert proxy.cuts == 1, "the cut did not happen during set-up"
                assert bus.is_connected
                env = await emit(bus, "after-the-cut")
                await eventually(lambda: store.effects_of(env.id), timeout=30, what="the event handled")
    finally:
        proxy.stop()
