"""No test may touch the broker's default vhost (make run's): the guard installed by tests/conftest.py."""

from __future__ import annotations

import aio_pika
import pytest

from tests.support import DEFAULT_VHOST_USE, vhost_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url, vhost",
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "/"),
        ("amqp://guest:guest@127.0.0.1:5672", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/hall-test-1a2b", "hall-test-1a2b"),
    ],
)
def test_vhost_as_aiormq_reads_it(url, vhost):
    assert vhost_of(url) == vhost


async def test_connecting_to_the_default_vhost_is_refused_and_recorded():
    with pytest.raises(ConnectionRefusedError, match="default vhost"):
        await aio_pika.connect("amqp://guest:secret@127.0.0.1:5672/", timeout=2)
    assert DEFAULT_VHOST_USE == ["amqp://guest@127.0.0.1:5672/"]  # recorded, without the password
    DEFAULT_VHOST_USE.clear()  # this test meant it; any other test doing it fails at teardown
