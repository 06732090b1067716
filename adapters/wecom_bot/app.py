"""A small HTTP receiver of WeCom group-bot style callbacks that publishes channel.message.v1 with confirms."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import yaml
from aiormq.exceptions import AMQPError, DeliveryError, PublishError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.contracts import CHANNELS_EXCHANGE, CONTENT_TYPE, Envelope, events

log = logging.getLogger("adapters.wecom_bot")
SOURCE = "/adapters/wecom_bot"
MAX_SKEW_S = 300
MAX_BODY = 64 * 1024
EVENT_NS = uuid.UUID("5b0f6a52-2f0e-4c51-9a55-6f1d3c1f7e11")  # event id = uuid5(NS, msgid): retries share an id


@dataclass(frozen=True)
class Config:
    """Where to publish, the shared callback token, and which group chat belongs to which community."""

    amqp_url: str
    token: str
    chats: dict[str, str]  # chatid -> community code

    @classmethod
    def from_env(cls) -> Config:
        """WECOM_BOT_TOKEN (required), WECOM_BOT_CHATS (JSON) or WECOM_BOT_CHATS_FILE (YAML), HALL_AMQP_URL."""
        token = os.environ.get("WECOM_BOT_TOKEN", "")
        if len(token) < 16:
            raise SystemExit("WECOM_BOT_TOKEN must be set (at least 16 characters)")
        if path := os.environ.get("WECOM_BOT_CHATS_FILE"):
            chats = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        else:
            chats = json.loads(os.environ.get("WECOM_BOT_CHATS", "{}"))
        if not isinstance(chats, dict) or not all(isinstance(v, str) for v in chats.values()):
            raise SystemExit("the chat map must be {chatid: community}")
        amqp = os.environ.get("HALL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        return cls(amqp_url=amqp, token=token, chats={str(k): v for k, v in chats.items()})


def sign(token: str, timestamp: str, body: bytes) -> str:
    """The signature a sender puts in X-Hall-Signature: sha256=HMAC-SHA256(token, "<timestamp>." + body)."""
    mac = hmac.new(token.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verified(token: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> bool:
    """A fresh timestamp and a matching signature (constant-time compare)."""
    if not timestamp or not signature or not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(sign(token, timestamp, body), signature)


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
    chatid: str = Field(min_length=1, max_length=128)
    sender: From = Field(alias="from")
    text: Text | None = None
    create_time: int | None = None


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

    @app.post("/wecom/callback")
    async def callback(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return answer(413, "回调内容过大", "Callback body too large")
        ts, sig = request.headers.get("x-hall-timestamp"), request.headers.get("x-hall-signature")
        if not verified(config.token, ts, sig, body, time.time()):
            return answer(401, "签名无效或已过期", "Invalid or stale signature")
        try:
            cb = Callback.model_validate_json(body)
        except ValidationError as exc:
            return answer(422, "回调内容格式不正确", f"Invalid callback: {exc.errors()[0]['msg']}")
        if cb.msgtype != "text" or not cb.text or not cb.text.content.strip():
            return answer(200, "非文本消息，已忽略", "Not a text message; ignored", published=False)
        community = config.chats.get(cb.chatid)
        if community is None:
            log.warning("wecom.unknown_chat chatid=%s", cb.chatid)
            return answer(200, "未登记的群聊，已忽略", "Chat not mapped to a community; ignored", published=False)
        env = to_envelope(cb, community, dt.datetime.now(dt.UTC))
        try:
            await publisher.publish(env)
        except (DeliveryError, PublishError, AMQPError, TimeoutError, OSError) as exc:
            # Not confirmed (or returned unroutable): answer 503 so the sender retries; nothing is half-sent.
            log.warning("wecom.publish_failed msgid=%s: %s", cb.msgid, type(exc).__name__)
            return answer(503, "消息暂未送达，请稍后重试", "Not confirmed by the broker; retry later")
        return answer(200, "已收到", "Received", published=True, event_id=env.id)

    return app
