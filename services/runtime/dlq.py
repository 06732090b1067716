"""Dead-lettered messages: list them with their reasons, replay them to the queue they came from.

    python -m services.runtime.dlq list   --queue intake.channels
    python -m services.runtime.dlq replay --queue intake.channels [--id EVENT_ID] [--limit N]
(each service also offers `python -m services.<name> dlq list|replay`, for all of its queues)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from services.runtime import amqp
from services.runtime.amqp import node_urls
from services.runtime.consumer import ATTEMPT_HEADER, QUEUE_HEADER, REASON_HEADER
from services.runtime.settings import get_settings


@dataclass
class DeadLetter:
    """One message resting in a DLQ."""

    queue: str
    event_id: str | None
    type: str | None
    reason: str
    origin: str


def _origin(msg: AbstractIncomingMessage, dlq: str) -> str:
    headers = msg.headers or {}
    if headers.get(QUEUE_HEADER):
        return str(headers[QUEUE_HEADER])
    deaths = headers.get("x-death") or []
    death = deaths[0] if isinstance(deaths, list) and deaths else None
    if isinstance(death, dict) and death.get("queue"):
        return str(death["queue"])
    return dlq.removesuffix(".dlq")


def _reason(msg: AbstractIncomingMessage) -> str:
    headers = msg.headers or {}
    if headers.get(REASON_HEADER):
        return str(headers[REASON_HEADER])
    deaths = headers.get("x-death") or []
    death = deaths[0] if isinstance(deaths, list) and deaths else None
    if isinstance(death, dict):
        return f"broker: {death.get('reason')!s} (count {death.get('count')!s})"
    return "unknown"


async def list_dead(url: str | Sequence[str], queue: str, *, limit: int = 1000) -> list[DeadLetter]:
    """Read (without removing) up to `limit` messages of `queue`'s DLQ."""
    dlq = f"{queue}.dlq"
    out: list[DeadLetter] = []
    conn = await _connect(url)
    try:
        ch = await conn.channel()
        q = await ch.get_queue(dlq, ensure=True)
        while len(out) < limit:
            msg = await q.get(no_ack=False, fail=False)
            if msg is None:
                break
            out.append(
                DeadLetter(
                    queue=dlq, event_id=msg.message_id, type=msg.type, reason=_reason(msg), origin=_origin(msg, dlq)
                )
            )
        # Closing the channel returns every unacked message to the DLQ untouched.
        await ch.close()
    finally:
        await conn.close()
    return out


async def replay(url: str | Sequence[str], queue: str, *, event_id: str | None = None, limit: int = 1000) -> int:
    """Move messages from `queue`'s DLQ back to the queue they came from; return how many moved."""
    dlq = f"{queue}.dlq"
    moved = 0
    conn = await _connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        q = await ch.get_queue(dlq, ensure=True)
        skipped: list[AbstractIncomingMessage] = []
        while moved < limit:
            msg = await q.get(no_ack=False, fail=False)
            if msg is None:
                break
            if event_id is not None and msg.message_id != event_id:
                skipped.append(msg)
                continue
            headers = {
                k: v
                for k, v in (msg.headers or {}).items()
                if k
                not in (
                    ATTEMPT_HEADER,
                    REASON_HEADER,
                    "x-death",
                    "x-first-death-queue",
                    "x-first-death-reason",
                    "x-first-death-exchange",
                    "x-delivery-count",
                )
            }
            headers["x-hall-replayed"] = 1
            copy = aio_pika.Message(
                msg.body,
                message_id=msg.message_id,
                content_type=msg.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=msg.type,
                app_id=msg.app_id,
                headers=headers,
            )
            # Confirmed publish first, ack after: a crash in between duplicates, never loses
            # (and the consumer's inbox drops the duplicate).
            await ch.default_exchange.publish(copy, routing_key=_origin(msg, dlq), mandatory=True, timeout=10)
            await msg.ack()
            moved += 1
        for msg in skipped:
            await msg.nack(requeue=True)
        await ch.close()
    finally:
        await conn.close()
    return moved


async def depth(url: str | Sequence[str], queue: str) -> int:
    """How many messages rest in `queue`'s DLQ."""
    conn = await _connect(url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(f"{queue}.dlq", passive=True)
        return int(q.declaration_result.message_count or 0)
    finally:
        await conn.close()


async def _connect(url: str | Sequence[str]):
    """A connection to the URL, or to the first node of a list that answers (HALL_AMQP_NODES)."""
    return await amqp.connect([url] if isinstance(url, str) else url)


async def _exists(url: str | Sequence[str], queue: str) -> bool:
    conn = await _connect(url)
    try:
        await (await conn.channel()).declare_queue(queue, passive=True)
        return True
    except ChannelNotFoundEntity:
        return False
    finally:
        await conn.close()


def main(
    argv: list[str] | None = None,
    *,
    queues: list[str] | None = None,
    prog: str | None = None,
    service: str | None = None,
) -> None:
    """CLI: list, count or replay dead-lettered messages of one queue (or all of a service's queues)."""
    parser = argparse.ArgumentParser(prog=prog or "python -m services.runtime.dlq")
    parser.add_argument("command", choices=["list", "replay", "count"])
    parser.add_argument("--queue", action="append", help="consumer queue name, e.g. intake.channels")
    parser.add_argument("--id", help="replay only this event id")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    names = args.queue or queues
    if not names:
        parser.error("--queue is required")
    settings = get_settings()
    url = settings.amqp_urls_for(service) if service else node_urls(settings.amqp_url, settings.amqp_nodes)

    async def run() -> None:
        for name in names:
            if not await _exists(url, f"{name}.dlq"):
                # The service never ran against this broker: nothing can have been dead-lettered.
                print(f"{name}: no dead-letter queue (yet) on this broker", file=sys.stderr)
                continue
            if args.command == "list":
                for d in await list_dead(url, name, limit=args.limit):
                    print(json.dumps(asdict(d), ensure_ascii=False))
            elif args.command == "count":
                print(json.dumps({"queue": name, "dead": await depth(url, name)}))
            else:
                n = await replay(url, name, event_id=args.id, limit=args.limit)
                print(json.dumps({"queue": name, "replayed": n}))

    asyncio.run(run())


if __name__ == "__main__":
    main()


def run_depth(url: str | Sequence[str], queue: str) -> int:
    """Synchronous `depth` for scripts and tests."""
    return asyncio.run(depth(url, queue))
