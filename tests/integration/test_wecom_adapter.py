"""The WeCom robot reference adapter against the real broker: WeCom-encrypted callbacks in, a report out of intake.

The crypto is checked against WeCom's published sample (developer.work.weixin.qq.com/document/path/90968: token
QDG6eK, EncodingAESKey jWmYm7…, receiver wx5823bf96d3bd56c7) over HTTP, then live callbacks are sealed the way
WeCom seals them (AES-256-CBC, msg_signature) and must come out as exactly one report.
"""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import base64
import hashlib
import json
import time

import aio_pika
import pytest
from fastapi.testclient import TestClient
from wechatpy.enterprise.crypto import PrpCrypto

from adapters.wecom_bot.app import Config, create_app
from services.contracts import CHANNELS_EXCHANGE, Envelope, events
from tests.integration.test_intake_api import CHANNELS, all_reports, client, db_url, wait_for  # noqa: F401 - fixtures
from tests.support import consumer_count
from tests.unit.test_wecom_crypto import WECOM_SAMPLE, signature

pytestmark = pytest.mark.integration

TOKEN = "hJ8fQ2sLr5"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CHAT = "wrkSFfCgAAxxxxJinTaiHeZhuang"


def group_message(msgid: str, content: str, chatid: str = CHAT, msgtype: str = "text") -> str:
    """A group robot's decrypted callback, as WeCom documents it (XML)."""
    return (
        "<xml><WebhookUrl><![CDATA[https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=xxx]]></WebhookUrl>"
        f"<ChatId><![CDATA[{chatid}]]></ChatId><ChatType>group</ChatType>"
        "<From><UserId>liuxiuying</UserId><Name><![CDATA[刘秀英]]></Name><Alias><![CDATA[]]></Alias></From>"
        f"<MsgType>{msgtype}</MsgType><Text><Content><![CDATA[{content}]]></Content></Text>"
        f"<MsgId>{msgid}</MsgId></xml>"
    )


def sealed(plain: str, *, token: str = TOKEN, key: str = AES_KEY, receive_id: str = "", ts: int | None = None):
    """(query, body) of a callback sealed the way WeCom seals it: AES-256-CBC, then msg_signature."""
    import base64

    encrypted = PrpCrypto(base64.b64decode(key + "=")).encrypt(plain, receive_id).decode()
    stamp, nonce = str(ts if ts is not None else int(time.time())), "1372623149"
    query = {"msg_signature": signature(token, stamp, nonce, encrypted), "timestamp": stamp, "nonce": nonce}
    body = f"<xml><ToUserName><![CDATA[{receive_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return query, body.encode()


def config(url: str, **over) -> Config:
    return Config(**{"amqp_url": url, "token": TOKEN, "aes_key": AES_KEY, "chats": {CHAT: "xueyuan"}, **over})


@pytest.fixture
def adapter(hall_env):
    with TestClient(create_app(config(hall_env.amqp_url))) as a:
        yield a


def test_wecom_published_sample_over_http(hall_env):
    sample = WECOM_SAMPLE
    cfg = config(hall_env.amqp_url, token=sample["token"], aes_key=sample["aes_key"], receive_id=sample["receive_id"])
    with TestClient(create_app(cfg)) as a:
        # URL verification (GET): answer the decrypted echostr, nothing else.
        r = a.get("/wecom/callback", params=sample["verify"])
        assert r.status_code == 200 and r.text == sample["echo_plain"], r.text
        bad = {**sample["verify"], "msg_signature": "0" * 40}
        assert a.get("/wecom/callback", params=bad).status_code == 401
    # The sample message dates from 2014: only a receiver with the replay window switched off may open it.
    with TestClient(create_app(dataclasses_replace(cfg, max_skew_s=None))) as a:
        r = a.post("/wecom/callback", params=sample["message_query"], content=sample["message_body"].encode())
        # It opens (signature and receiver check out), and is an app's direct message, not a group text: ignored.
        assert r.status_code == 200 and r.headers["X-Hall-Published"] == "false" and r.content == b""
        forged = {**sample["message_query"], "msg_signature": sample["verify"]["msg_signature"]}
        assert a.post("/wecom/callback", params=forged, content=sample["message_body"].encode()).status_code == 401
    with TestClient(create_app(cfg)) as a:  # the real window refuses the replayed sample
        r = a.post("/wecom/callback", params=sample["message_query"], content=sample["message_body"].encode())
        assert r.status_code == 401


def dataclasses_replace(cfg: Config, **over) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, **over)


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
    duplicates = consumer_count(CHANNELS, "duplicate")
    with TestClient(create_app(config(hall_env.amqp_url))) as a:
        plain = group_message("msg-20240308-0001", "@物业 金泰和庄12栋2单元楼道灯又不亮了，我电话13800002031[图片]")
        query, body = sealed(plain)
        r = a.post("/wecom/callback", params=query, content=body)
        assert r.status_code == 200 and r.headers["X-Hall-Published"] == "true", r.text
        assert r.content == b""  # WeCom reads a body as a reply: none
        query, body = sealed(plain)  # WeCom retries the same message, sealed afresh
        again = a.post("/wecom/callback", params=query, content=body)
        assert again.headers["X-Hall-Event-Id"] == r.headers["X-Hall-Event-Id"]

        rows = wait_for(lambda: all_reports(client))
        wait_for(lambda: consumer_count(CHANNELS, "duplicate") > duplicates, what="the retry handled as a duplicate")
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
    assert tapped[0].message_id == env.id == r.headers["X-Hall-Event-Id"] and env.type == "channel.message.v1"
    msg = events.ChannelMessage.model_validate(env.data)
    assert msg.channel_message_id == "msg-20240308-0001" and env.community == "xueyuan"
    assert msg.sender and msg.sender.id == "liuxiuying"


def test_signature_receiver_and_freshness_are_checked(adapter):
    plain = group_message("msg-x", "路灯不亮")
    query, body = sealed(plain)
    assert adapter.post("/wecom/callback", content=body).status_code == 401  # no msg_signature at all
    wrong_token = sealed(plain, token="another-token")
    assert adapter.post("/wecom/callback", params=wrong_token[0], content=wrong_token[1]).status_code == 401
    other_key = sealed(plain, key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    assert adapter.post("/wecom/callback", params=other_key[0], content=other_key[1]).status_code == 401
    elsewhere = sealed(plain, receive_id="wx5823bf96d3bd56c7")  # sealed for another receiver
    assert adapter.post("/wecom/callback", params=elsewhere[0], content=elsewhere[1]).status_code == 401
    stale = sealed(plain, ts=int(time.time()) - 3600)
    assert adapter.post("/wecom/callback", params=stale[0], content=stale[1]).status_code == 401
    # The signature covers the encrypted text: change one character of it and the callback is refused.
    tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[A", 1)
    assert adapter.post("/wecom/callback", params=query, content=tampered).status_code == 401
    # The robot's JSON form ({"encrypt": …}) is checked the same way.
    enc = body.decode().split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert adapter.post("/wecom/callback", params=query, content=json.dumps({"encrypt": enc})).status_code == 503


def test_ignored_malformed_and_unroutable_messages(adapter):
    def post(plain: str):
        query, body = sealed(plain)
        return adapter.post("/wecom/callback", params=query, content=body)

    assert post(group_message("msg-img", "", msgtype="image")).headers["X-Hall-Published"] == "false"
    assert post(group_message("msg-other", "路灯不亮", chatid="wrkUnknownChat")).headers["X-Hall-Published"] == "false"
    assert post('{"msgtype": "text"}').status_code == 422  # decrypts, but is no callback
    assert post("<xml><MsgType>text</MsgType></xml>").status_code == 422
    entity = '<!DOCTYPE x [<!ENTITY e "boom">]><xml><MsgType>&e;</MsgType></xml>'
    assert post(entity).status_code == 422  # entities are never expanded
    garbage = adapter.post("/wecom/callback", params=sealed("x")[0], content=b"<xml><Encrypt>")
    assert garbage.status_code in (401, 422)
    # Nothing is bound to hall.channels in this fresh vhost: the mandatory publish comes back, WeCom must retry.
    assert post(group_message("msg-nobody", "路灯不亮")).status_code == 503


def test_garbage_that_passes_for_padding_is_refused(adapter):
    """Text that decrypts (with the right key) to garbage ending in a 0 byte: wechatpy reads a length from nothing."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    for i in range(5000):  # about one random ciphertext in 256 decrypts to a last byte of 0
        blob = hashlib.sha256(f"garbage-{i}".encode()).digest() * 2
        dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        if (dec.update(blob) + dec.finalize())[-1] == 0:
            break
    else:
        pytest.fail("no ciphertext decrypting to a last byte of 0 was found")
    encrypted = base64.b64encode(blob).decode()
    stamp, nonce = str(int(time.time())), "1372623149"
    query = {"msg_signature": signature(TOKEN, stamp, nonce, encrypted), "timestamp": stamp, "nonce": nonce}
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    assert adapter.post("/wecom/callback", params=query, content=body).status_code == 401
