"""The shipped broker users (deploy/rabbitmq/definitions.json) against the real RabbitMQ.

The file is imported with `rabbitmqctl import_definitions` into a private vhost, its users renamed with a
random prefix (the machine's broker is shared), and deleted afterwards. Each service user does its job with
the services' own topology code and nothing of another service's; the adapter user can only publish
`channel.message.v1` to hall.channels.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aio_pika
import aiormq.exceptions
import pytest

from adapters.wecom_bot.app import Publisher
from services.console.live import LiveHub
from services.contracts import (
    CHANNELS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    RETRY_EXCHANGE,
    Envelope,
    events,
)
from services.contracts.catalog import CATALOG
from services.runtime import dlq
from services.runtime.settings import Settings
from services.runtime.topology import declare_exchanges, declare_queue
from tests.support import AMQP_BASE, rabbitmqctl, wait_for, wait_for_async
from tools.broker_definitions import OUT, SERVICES, USERS, placeholder

pytestmark = pytest.mark.integration

REFUSED = (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelClosed)


@pytest.fixture(scope="module")
def broker() -> Callable[[str], str]:
    """Import the shipped definitions into a private vhost; yield user -> AMQP URL (placeholder password)."""
    tag = uuid.uuid4().hex[:8]
    vhost, names = f"hall-perm-{tag}", {u: f"t{tag}-{u}" for u in USERS}
    doc = json.loads(OUT.read_text(encoding="utf-8"))
    for section in ("permissions", "topic_permissions", "exchanges"):
        for row in doc[section]:
            row["vhost"] = vhost
            if "user" in row:
                row["user"] = names[row["user"]]
    doc["vhosts"] = [{"name": vhost}]
    for user in doc["users"]:
        user["name"] = names[user["name"]]
    # A world-readable file in /tmp: the rabbitmqctl wrapper runs as the broker's user (placeholder hashes only).
    fd, path = tempfile.mkstemp(prefix="hall-perm-", suffix=".json", dir="/tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.chmod(path, 0o644)
    try:
        rabbitmqctl("import_definitions", path)
        _wait_for_import(vhost, len(doc["topic_permissions"]))
        host = AMQP_BASE.rsplit("@", 1)[1]
        yield lambda u: f"amqp://{names[u]}:{placeholder(u)}@{host}/{quote(vhost, safe='')}"
    finally:
        for name in names.values():
            rabbitmqctl("delete_user", name)
        rabbitmqctl("delete_vhost", vhost)
        os.unlink(path)


def _wait_for_import(vhost: str, topic_rules: int) -> None:
    # The import runs asynchronously in the broker; topic permissions are among the last things it sets.
    wait_for(
        lambda: rabbitmqctl("list_topic_permissions", "-q", "-p", vhost).count("\n") > topic_rules,
        timeout=10,
        interval=0.1,
        what="the definitions imported",
    )


def subscriptions(service: str):
    """The service's own queue specs, from its code."""
    return importlib.import_module(f"services.{service}.app").spec().subscriptions(Settings())


def message(type_: str) -> aio_pika.Message:
    return aio_pika.Message(b"{}", message_id=str(uuid.uuid4()), type=type_)


async def refused(url: str, action: Callable[[aio_pika.abc.AbstractChannel], Awaitable[object]]) -> None:
    """Assert that the broker refuses `action` (403 closes the channel)."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        with pytest.raises(REFUSED) as err:
            await asyncio.wait_for(action(ch), 10)
        assert "ACCESS_REFUSED" in str(err.value) or "403" in str(err.value), err.value
    finally:
        await conn.close()


async def get(ch, queue: str) -> None:
    await (await ch.get_queue(queue, ensure=False)).get(fail=False)


async def publish(ch, exchange: str, key: str) -> None:
    ex = await ch.get_exchange(exchange, ensure=False)
    await ex.publish(message(key), routing_key=key, timeout=10)


async def test_every_service_user_does_its_job(broker):
    for service in SERVICES:
        conn = await aio_pika.connect(broker(service))
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            await declare_exchanges(ch)
            for sub in subscriptions(service):
                queue = await declare_queue(ch, sub.spec)  # with its retry and dead-letter queues and bindings
                # The consumer's retry and dead-letter copies, then read its own queue and its DLQ.
                await publish(ch, RETRY_EXCHANGE, sub.spec.retry_queue(sub.spec.retry_delays_ms[0]))
                await publish(ch, DEAD_LETTER_EXCHANGE, sub.spec.name)
                await queue.get(fail=False)
                await (await ch.get_queue(sub.spec.dlq)).get(fail=False)
            for type_, entry in CATALOG.items():
                if entry.producer == service:
                    await publish(ch, EVENTS_EXCHANGE, type_)  # confirmed by the broker
        # `python -m services.<name> dlq replay` with the same user.
        assert await dlq.replay(broker(service), subscriptions(service)[0].spec.name) >= 1


async def test_adapter_publishes_channel_messages_and_intake_reads_them(broker):
    conn = await aio_pika.connect(broker("intake"))
    async with conn:
        ch = await conn.channel()
        [channels] = [s for s in subscriptions("intake") if s.spec.name == "intake.channels"]
        queue = await declare_queue(ch, channels.spec)
        publisher = Publisher(broker("adapter"))  # the WeCom adapter's own publisher
        await publisher.start()
        try:
            env = Envelope.new(
                type="channel.message.v1",
                source="/adapters/test",
                community="xueyuan",
                data=events.ChannelMessage(
                    channel="wechat_group",
                    channel_message_id=uuid.uuid4().hex,
                    text="路灯不亮",
                    received_at="2026-03-08T09:00:00+08:00",
                ),
            )
            await publisher.publish(env)  # confirmed and routed (mandatory), or it raises
        finally:
            await publisher.close()
        got = []
        while (m := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(m.message_id)
        assert env.id in got


@pytest.mark.parametrize(
    "what",
    ["publish hall.events", "other type on hall.channels", "consume intake.channels", "declare a queue", "delete"],
)
async def test_adapter_user_can_do_nothing_else(broker, what):
    # Intake's queue exists, as in a running deployment.
    conn = await aio_pika.connect(broker("intake"))
    async with conn:
        ch = await conn.channel()
        for sub in subscriptions("intake"):
            await declare_queue(ch, sub.spec)
    url = broker("adapter")
    actions = {
        "publish hall.events": lambda ch: publish(ch, EVENTS_EXCHANGE, "matter.closed.v1"),
        "other type on hall.channels": lambda ch: publish(ch, CHANNELS_EXCHANGE, "report.received.v1"),
        "consume intake.channels": lambda ch: get(ch, "intake.channels"),
        "declare a queue": lambda ch: ch.declare_queue("tap", auto_delete=True),
        "delete": lambda ch: ch.exchange_delete(CHANNELS_EXCHANGE),
    }
    await refused(url, actions[what])


@pytest.mark.parametrize(
    "what",
    [
        "consume ledger's queue",
        "declare a ledger queue",
        "bind to hall.channels otherwise",
        "publish ledger's event",
        "bind an event it does not consume",
        "publish to hall.channels",
    ],
)
async def test_a_service_user_cannot_do_another_services_job(broker, what):
    conn = await aio_pika.connect(broker("ledger"))
    async with conn:
        ch = await conn.channel()
        for sub in subscriptions("ledger"):
            await declare_queue(ch, sub.spec)
    url = broker("intake")

    async def bind(ch, exchange: str, key: str) -> None:
        q = await ch.declare_queue("intake.status", passive=True)
        await q.bind(exchange, routing_key=key)

    actions = {
        "consume ledger's queue": lambda ch: get(ch, "ledger.events"),
        "declare a ledger queue": lambda ch: ch.declare_queue("ledger.tap", durable=True),
        "bind to hall.channels otherwise": lambda ch: bind(ch, CHANNELS_EXCHANGE, "#"),
        "publish ledger's event": lambda ch: publish(ch, EVENTS_EXCHANGE, "matter.closed.v1"),
        "bind an event it does not consume": lambda ch: bind(ch, EVENTS_EXCHANGE, "evaluation.recorded.v1"),
        "publish to hall.channels": lambda ch: publish(ch, CHANNELS_EXCHANGE, "channel.message.v1"),
    }
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        for sub in subscriptions("intake"):
            await declare_queue(ch, sub.spec)
    await refused(url, actions[what])


async def test_console_user_follows_events_and_touches_no_queue(broker):
    hub = LiveHub(broker("console"))
    await hub.start()
    try:
        await wait_for_async(lambda: hub.is_connected, timeout=10, interval=0.1, what="the live hub connected")
    finally:
        await hub.stop()
    await refused(broker("console"), lambda ch: get(ch, "triage.reports"))
    await refused(broker("console"), lambda ch: publish(ch, EVENTS_EXCHANGE, "matter.closed.v1"))


def test_a_service_runs_under_its_own_user(broker, tmp_path, monkeypatch):
    """<SERVICE>_AMQP_URL wins over HALL_AMQP_URL: the service consumes and is ready under its own user."""
    from fastapi.testclient import TestClient

    from services.meeting.app import spec
    from services.runtime.service import create_app
    from services.runtime.settings import get_settings

    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HALL_LOG_JSON", "false")
    monkeypatch.setenv("HALL_AMQP_URL", broker("adapter"))  # a user that could not run the service
    monkeypatch.setenv("MEETING_AMQP_URL", broker("meeting"))
    get_settings.cache_clear()
    with TestClient(create_app(spec())) as client:
        client.portal.call(client.app.state.ctx.bus.wait_ready)
        assert client.get("/readyz").status_code == 200
    get_settings.cache_clear()
