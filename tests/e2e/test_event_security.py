"""Hostile events: another community's claim, an unknown type, an unsigned forgery, a replay: nothing changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import aio_pika
import pytest

from services.contracts import CONTENT_TYPE, EVENTS_EXCHANGE, Envelope, events
from services.runtime import dlq
from services.runtime.settings import Settings
from services.runtime.signing import SIGNATURE_HEADER, sign_event
from tests.e2e.platform import eventually
from tests.support import wait_for_async

pytestmark = pytest.mark.e2e


async def _publish(url: str, body: bytes, message_id: str, *, key: str = "matter.closed.v1", headers=None) -> None:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(EVENTS_EXCHANGE)
        msg = aio_pika.Message(
            body,
            message_id=message_id,
            content_type=CONTENT_TYPE,
            headers=headers or {},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await ex.publish(msg, routing_key=key)


async def _capture(url: str, key: str, found: list) -> aio_pika.abc.AbstractConnection:
    conn = await aio_pika.connect(url)
    ch = await conn.channel()
    ex = await ch.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    q = await ch.declare_queue("", exclusive=True)
    await q.bind(ex, routing_key=key)

    async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        found.append(message)

    await q.consume(keep, no_ack=True)
    return conn


def test_hostile_events_change_nothing(platform, vhost):
    p = platform
    signing = Settings(var_dir=p.var)  # the platform's own key, as a buggy service (not an outsider) would have
    loop = asyncio.new_event_loop()
    captured: list = []
    conn = loop.run_until_complete(_capture(vhost, "report.received.v1", captured))
    try:
        r = p.post("intake", "/v1/reports", {"community": "jinshan", "text": "景湖花园9号楼楼道灯不亮了"})
        report_id = r.json()["report_id"]
        matter_id = eventually(lambda: p.get("intake", f"/v1/reports/{report_id}").json()["matter_id"], what="matter")
        entry = eventually(lambda: p.get("ledger", "/v1/entries").json()["items"], what="entry")[0]
        # The capture's deliveries are handled while this loop runs.
        loop.run_until_complete(wait_for_async(lambda: captured, what="report.received.v1 captured"))
    finally:
        loop.run_until_complete(conn.close())

    def closed(community: str, by: str) -> Envelope:
        return Envelope.new(
            type="matter.closed.v1",
            source="/services/ledger",
            community=community,
            subject=matter_id,
            data=events.MatterClosed(
                matter_id=matter_id, entry_id=entry["id"], by=by, closed_at=dt.datetime.now(dt.UTC)
            ),
        )

    def send(env: Envelope, *, sign: bool, key: str = "matter.closed.v1") -> None:
        body = env.to_bytes()
        headers = {SIGNATURE_HEADER: sign_event(body, signing)} if sign else {}
        loop.run_until_complete(_publish(vhost, body, env.id, key=key, headers=headers))

    # 1. Signed, but claiming another community for this matter (a buggy or compromised producer).
    send(closed("wenzhuang", "intruder"), sign=True)
    # 2. An unknown type on a bound routing key.
    send(closed("jinshan", "x").model_copy(update={"type": "matter.exploded.v1", "id": str(uuid.uuid4())}), sign=True)
    # 3. A well-formed close for the right community, but not signed by a service (an outsider with broker access).
    send(closed("jinshan", "outsider"), sign=False)
    # 4. A replay of a real, already handled event: same id, same bytes, same signature.
    replays = p.consumer_count("triage", "triage.reports", "duplicate")
    original = captured[0]
    loop.run_until_complete(
        _publish(vhost, original.body, original.message_id, key="report.received.v1", headers=dict(original.headers))
    )

    for queue in ("intake.status", "triage.matters", "feedback.events"):
        eventually(lambda q=queue: dlq.run_depth(vhost, q) >= 3, timeout=30, what=f"{queue}: three dead-lettered")
        reasons = [d.reason for d in loop.run_until_complete(dlq.list_dead(vhost, queue))]
        for expected in ("rejected", "unknown event type", "forged"):
            assert any(expected in x for x in reasons), (queue, reasons)
    eventually(lambda: p.consumer_count("triage", "triage.reports", "duplicate") > replays, what="the replay handled")
    assert dlq.run_depth(vhost, "triage.reports") == 0, "a replay is deduplicated, not dead-lettered"
    matter = p.get("triage", f"/v1/matters/{matter_id}").json()
    assert matter["status"] == "open" and matter["report_ids"] == [report_id]
    assert p.get("intake", f"/v1/reports/{report_id}").json()["status"] != "closed"
    assert p.get("ledger", f"/v1/entries/{entry['id']}").json()["state"] == "assigned"
    assert len(p.get("ledger", "/v1/entries").json()["items"]) == 1
    loop.close()
