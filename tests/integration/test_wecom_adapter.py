"""The WeCom group-bot reference adapter against the real broker: signed callback in, report out of intake."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import json
import time

import aio_pika
import pytest
from fastapi.testclient import TestClient

from adapters.wecom_bot.app import Config, create_app, sign
from services.contracts import CHANNELS_EXCHANGE, Envelope, events
from tests.integration.test_intake_api import all_reports, client, db_url, wait_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

TOKEN = "s3cret-shared-token-for-tests"
CHAT = "wrkSFfCgAAxxxxJinTaiHeZhuang"


def callback(msgid: str, content: str, chatid: str = CHAT, msgtype: str = "text") -> bytes:
    doc = {
        "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=xxx",
        "chatid": chatid,
        "chattype": "group",
        "msgid": msgid,
        "from": {"userid": "liuxiuying", "name": "刘秀英", "alias": ""},
        "msgtype": msgtype,
        "text": {"content": content},
        "create_time": int(time.time()),
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def signed(body: bytes, token: str = TOKEN, ts: int | None = None) -> dict:
    stamp = str(ts if ts is not None else int(time.time()))
    return {"X-Hall-Timestamp": stamp, "X-Hall-Signature": sign(token, stamp, body), "Content-Type": "application/json"}


@pytest.fixture
def adapter(hall_env):
    with TestClient(create_app(Config(amqp_url=hall_env.amqp_url, token=TOKEN, chats={CHAT: "xueyuan"}))) as a:
        yield a


def test_signed_callback_becomes_one_report_in_intake(client, hall_env):
    # A queue of our own on hall.channels, to read the envelope exactly as published.
    async def tap() -> None:
        await client.app.state.ctx.bus.wait_ready()
        conn = await aio_pika.connect_robust(hall_env.amqp_url)
        async with conn:
            ch = await conn.channel()
            q = await ch.declare_queue("test.tap", durable=False, auto_delete=False)
            await q.bind(await ch.get_exchange(CHANNELS_EXCHANGE), routing_key="channel.message.v1")

    client.portal.call(tap)
    with TestClient(create_app(Config(amqp_url=hall_env.amqp_url, token=TOKEN, chats={CHAT: "xueyuan"}))) as a:
        body = callback("msg-20240308-0001", "@物业 金泰和庄12栋2单元楼道灯又不亮了，我电话13800002031[图片]")
        r = a.post("/wecom/callback", content=body, headers=signed(body))
        assert r.status_code == 200 and r.json()["published"] is True, r.text
        again = a.post("/wecom/callback", content=body, headers=signed(body))  # WeCom retries the same callback
        assert again.json()["event_id"] == r.json()["event_id"]

        rows = wait_for(lambda: all_reports(client))
        time.sleep(0.5)
        [row] = all_reports(client)
        assert row["id"] == rows[0]["id"] and row["channel"] == "wechat_group" and row["community"] == "xueyuan"
        assert (row["compound"], row["building"], row["unit"]) == ("jintaihezhuang", "12", "2")
        assert row["reporter"]["name"] == "刘**" and "13800002031" not in row["text"]

    async def read_tap() -> list[aio_pika.abc.AbstractIncomingMessage]:
        conn = await aio_pika.connect_robust(hall_env.amqp_url)
        async with conn:
            ch = await conn.channel()
            q = await ch.get_queue("test.tap")
            got = []
            while (m := await q.get(no_ack=True, fail=False)) is not None:
                got.append(m)
            await q.delete(if_unused=False, if_empty=False)
            return got

    tapped = client.portal.call(read_tap)
    assert len(tapped) == 2
    env = Envelope.from_bytes(tapped[0].body)
    assert tapped[0].message_id == env.id == r.json()["event_id"] and env.type == "channel.message.v1"
    msg = events.ChannelMessage.model_validate(env.data)
    assert msg.channel_message_id == "msg-20240308-0001" and env.community == "xueyuan"
    assert msg.sender and msg.sender.id == "liuxiuying"


def test_signature_is_required_and_checked(adapter):
    body = callback("msg-x", "路灯不亮")
    assert adapter.post("/wecom/callback", content=body).status_code == 401
    assert (
        adapter.post("/wecom/callback", content=body, headers=signed(body, token="wrong-token-123456")).status_code
        == 401
    )
    stale = signed(body, ts=int(time.time()) - 3600)
    assert adapter.post("/wecom/callback", content=body, headers=stale).status_code == 401
    tampered = signed(body)
    changed = body.replace("路灯".encode(), "电梯".encode())
    assert adapter.post("/wecom/callback", content=changed, headers=tampered).status_code == 401


def test_ignored_and_unroutable_messages(adapter):
    img = callback("msg-img", "", msgtype="image")
    assert adapter.post("/wecom/callback", content=img, headers=signed(img)).json()["published"] is False
    other = callback("msg-other", "路灯不亮", chatid="wrkUnknownChat")
    assert adapter.post("/wecom/callback", content=other, headers=signed(other)).json()["published"] is False
    bad = b'{"msgtype": "text"}'
    assert adapter.post("/wecom/callback", content=bad, headers=signed(bad)).status_code == 422
    # Nothing is bound to hall.channels in this fresh vhost: the mandatory publish comes back, the sender must retry.
    body = callback("msg-nobody", "路灯不亮")
    assert adapter.post("/wecom/callback", content=body, headers=signed(body)).status_code == 503
