"""A small HTTP receiver of WeCom (企业微信) robot callbacks that publishes channel.message.v1 with confirms.

Callback security is WeCom's own scheme, done by wechatpy's WeCom crypto (`WeChatCrypto`): every request carries
`msg_signature`, `timestamp` and `nonce`; msg_signature = SHA1 of the sorted (token, timestamp, nonce, encrypted
text); the text is AES-256-CBC under the EncodingAESKey with the receiver id at its end (docs/channels/wechat_group.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import struct
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.parsers.expat import ExpatError

import aio_pika
import xmltodict
import yaml
from aiormq.exceptions import AMQPError, DeliveryError, PublishError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from wechatpy.exceptions import InvalidSignatureException, WeChatException

try:  # wechatpy 2 names WeCom "work"; 1.8 "enterprise"
    from wechatpy.work.crypto import WeChatCrypto
except ImportError:  # pragma: no cover - depends on the installed wechatpy
    from wechatpy.enterprise.crypto import WeChatCrypto

from services.contracts import CHANNELS_EXCHANGE, CONTENT_TYPE, Envelope, events

log = logging.getLogger("adapters.wecom_bot")
SOURCE = "/adapters/wecom_bot"
MAX_SKEW_S = 300
MAX_BODY = 64 * 1024
EVENT_NS = uuid.UUID("5b0f6a52-2f0e-4c51-9a55-6f1d3c1f7e11")  # event id = uuid5(NS, msgid): retries share an id


@dataclass(frozen=True)
class Config:
    """Where to publish, WeCom's callback token and key, and which group chat belongs to which community."""

    amqp_url: str
    token: str
    aes_key: str  # EncodingAESKey: 43 characters, base64 of the 32-byte AES key without its '='
    chats: dict[str, str]  # chatid -> community code
    receive_id: str = ""  # ReceiveId: the corp id for apps; empty for robots created inside the corp
    max_skew_s: int | None = MAX_SKEW_S  # replay window for message callbacks; None only to replay old vectors

    @classmethod
    def from_env(cls) -> Config:
        """From WECOM_BOT_TOKEN, WECOM_BOT_AES_KEY, WECOM_BOT_RECEIVE_ID, WECOM_BOT_CHATS[_FILE], HALL_AMQP_URL."""
        token = os.environ.get("WECOM_BOT_TOKEN", "")
        if not token:
            raise SystemExit("WECOM_BOT_TOKEN must be set (the Token of the robot's callback settings)")
        aes_key = os.environ.get("WECOM_BOT_AES_KEY", "")
        if len(aes_key) != 43:
            raise SystemExit("WECOM_BOT_AES_KEY must be the callback's EncodingAESKey (43 characters)")
        if path := os.environ.get("WECOM_BOT_CHATS_FILE"):
            chats = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        else:
            chats = json.loads(os.environ.get("WECOM_BOT_CHATS", "{}"))
        if not isinstance(chats, dict) or not all(isinstance(v, str) for v in chats.values()):
            raise SystemExit("the chat map must be {chatid: community}")
        amqp = os.environ.get("HALL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        return cls(
            amqp_url=amqp,
            token=token,
            aes_key=aes_key,
            chats={str(k): v for k, v in chats.items()},
            receive_id=os.environ.get("WECOM_BOT_RECEIVE_ID", ""),
        )

    def crypto(self) -> WeChatCrypto:
        """wechatpy's WeCom crypto for this callback (signature check, AES-CBC, receiver id check)."""
        return WeChatCrypto(self.token, self.aes_key, self.receive_id)


class Refused(Exception):
    """A callback that does not pass WeCom's checks: bad or stale signature, wrong receiver, garbled text."""


def _opened(crypto: WeChatCrypto, signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """Verify msg_signature over (token, timestamp, nonce, encrypted) and decrypt; Refused otherwise."""
    try:
        return crypto.check_signature(signature, timestamp, nonce, encrypted)
    except InvalidSignatureException:
        raise Refused("msg_signature does not match") from None
    except WeChatException:  # InvalidCorpIdException: encrypted for another receiver
        raise Refused("encrypted for another receiver") from None
    # Not WeCom's AES-CBC text, or sealed with another key: garbage whose last byte passes for padding makes wechatpy
    # read a length from too few bytes (struct.error), about one try in a few hundred.
    except (ValueError, TypeError, UnicodeDecodeError, IndexError, struct.error) as exc:
        raise Refused(f"cannot decrypt: {type(exc).__name__}") from None


def verify_url(config: Config, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """WeCom's URL check (GET): the decrypted echostr, which the receiver must answer with."""
    return _opened(config.crypto(), msg_signature, timestamp, nonce, echostr)


def open_message(config: Config, signature: str, timestamp: str, nonce: str, body: bytes, now: float) -> str:
    """A message callback (POST): check freshness, find the encrypted text (XML or JSON body), verify, decrypt."""
    if not timestamp.isdigit() or (config.max_skew_s is not None and abs(now - int(timestamp)) > config.max_skew_s):
        raise Refused("stale or missing timestamp")
    text = body.decode("utf-8", errors="strict").strip()
    if text.startswith("{"):
        encrypted = json.loads(text).get("encrypt")
    else:
        # WeCom's XML envelope: <xml><ToUserName/><Encrypt/><AgentID/></xml>; entities are never expanded.
        encrypted = (xmltodict.parse(text, disable_entities=True).get("xml") or {}).get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise ValueError("no encrypted text in the callback body")
    return _opened(config.crypto(), signature, timestamp, nonce, encrypted)


class From(BaseModel):
    """The sender as WeCom names them."""

    model_config = ConfigDict(extra="ignore")
    userid: str = Field(min_length=1, max_length=128)
    name: str | None = Field(None, max_length=64)


class Text(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = Field(max_length=5000)


class Callback(BaseModel):
    """A group-bot callback: msgtype, msgid, chatid, from, text."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    msgtype: str
    msgid: str = Field(min_length=1, max_length=128)
    chatid: str = Field("", max_length=128)  # empty for a direct (non-group) message
    sender: From = Field(alias="from")
    text: Text | None = None
    create_time: int | None = None


def parse_plain(plain: str) -> Callback:
    """The decrypted message: a group robot's XML (ChatId, From, MsgType, Text, MsgId) or a robot's JSON."""
    if plain.lstrip().startswith("{"):
        return Callback.model_validate_json(plain)
    x = xmltodict.parse(plain, disable_entities=True).get("xml") or {}
    sender = x.get("From") or {}
    text = x.get("Text")
    # A group robot nests the text (<Text><Content>); an app message has <Content> at the top.
    content = (text.get("Content") if isinstance(text, dict) else None) or x.get("Content")
    return Callback.model_validate(
        {
            "msgtype": x.get("MsgType") or "",
            "msgid": x.get("MsgId") or "",
            "chatid": x.get("ChatId") or "",
            "from": {"userid": sender.get("UserId") or x.get("FromUserName") or "", "name": sender.get("Name")},
            "text": {"content": content} if isinstance(content, str) else None,
            "create_time": int(x["CreateTime"]) if str(x.get("CreateTime") or "").isdigit() else None,
        }
    )


def to_envelope(cb: Callback, community: str, now: dt.datetime) -> Envelope:
    """channel.message.v1 for one text message; message id = event id, channel_message_id = msgid."""
    occurred = dt.datetime.fromtimestamp(cb.create_time, dt.UTC) if cb.create_time else None
    data = events.ChannelMessage(
        channel="wechat_group",
        channel_message_id=cb.msgid,
        text=cb.text.content.strip() if cb.text else "",
        received_at=now,
        occurred_at=occurred,
        sender=events.Sender(id=cb.sender.userid, name=cb.sender.name),
    )
    event_id = str(uuid.uuid5(EVENT_NS, f"wecom:{cb.chatid}:{cb.msgid}"))
    return Envelope.new(type="channel.message.v1", source=SOURCE, community=community, data=data, id=event_id)


class Publisher:
    """One robust connection; each publish waits for the broker's confirm and fails on a returned message."""

    def __init__(self, url: str):
        self.url = url
        self.conn: aio_pika.abc.AbstractRobustConnection | None = None
        self.exchange: aio_pika.abc.AbstractExchange | None = None

    async def start(self) -> None:
        self.conn = await aio_pika.connect_robust(self.url)
        try:
            # Passively: the adapter's broker user may publish to hall.channels but not declare (or delete) it.
            channel = await self.conn.channel(publisher_confirms=True, on_return_raises=True)
            self.exchange = await channel.get_exchange(CHANNELS_EXCHANGE, ensure=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            # A bare broker (development): nothing has declared it yet, and a local user may.
            channel = await self.conn.channel(publisher_confirms=True, on_return_raises=True)
            self.exchange = await channel.declare_exchange(CHANNELS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)

    async def publish(self, env: Envelope) -> None:
        assert self.exchange is not None
        msg = aio_pika.Message(
            env.to_bytes(),
            message_id=env.id,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=dt.datetime.now(dt.UTC),
        )
        await self.exchange.publish(msg, routing_key=env.type, mandatory=True, timeout=10)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


def create_app(config: Config | None = None) -> FastAPI:
    """The receiver app: POST /wecom/callback, GET /healthz."""
    config = config or Config.from_env()
    publisher = Publisher(config.amqp_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.close()

    app = FastAPI(title="WeCom group-bot adapter (企业微信群机器人适配器)", lifespan=lifespan)

    def answer(status: int, zh: str, en: str, **extra) -> JSONResponse:
        return JSONResponse({"status": status, "detail": zh, "detail_en": en, **extra}, status_code=status)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/wecom/callback", response_model=None)
    async def verify(msg_signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = "") -> Response:
        """WeCom's URL verification: answer the decrypted echostr as plain text."""
        try:
            return PlainTextResponse(verify_url(config, msg_signature, timestamp, nonce, echostr))
        except Refused as exc:
            log.warning("wecom.verify_refused: %s", exc)
            return answer(401, "回调签名校验失败", "Callback signature check failed")

    @app.post("/wecom/callback", response_model=None)
    async def callback(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return answer(413, "回调内容过大", "Callback body too large")
        try:
            cb = parse_plain(open_message(config, msg_signature, timestamp, nonce, body, time.time()))
        except Refused as exc:
            log.warning("wecom.callback_refused: %s", exc)
            return answer(401, "回调签名无效、已过期或不是发给本应用的", "Invalid, stale or misdirected callback")
        except (ValueError, ValidationError, TypeError, ExpatError) as exc:
            return answer(422, "回调内容格式不正确", f"Invalid callback: {type(exc).__name__}")
        # WeCom reads any body as a reply: success is an empty 200; what happened is in headers for operators.
        if cb.msgtype != "text" or not cb.text or not cb.text.content.strip() or not cb.chatid:
            return Response(status_code=200, headers={"X-Hall-Published": "false", "X-Hall-Reason": "not-a-group-text"})
        community = config.chats.get(cb.chatid)
        if community is None:
            log.warning("wecom.unknown_chat chatid=%s", cb.chatid)
            return Response(status_code=200, headers={"X-Hall-Published": "false", "X-Hall-Reason": "unmapped-chat"})
        env = to_envelope(cb, community, dt.datetime.now(dt.UTC))
        try:
            await publisher.publish(env)
        except (DeliveryError, PublishError, AMQPError, TimeoutError, OSError) as exc:
            # Not confirmed (or returned unroutable): answer 503 so WeCom retries; nothing is half-sent.
            log.warning("wecom.publish_failed msgid=%s: %s", cb.msgid, type(exc).__name__)
            return answer(503, "消息暂未送达，请稍后重试", "Not confirmed by the broker; retry later")
        return Response(status_code=200, headers={"X-Hall-Published": "true", "X-Hall-Event-Id": env.id})

    return app
