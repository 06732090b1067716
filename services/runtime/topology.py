"""Broker topology declared by code: exchanges, quorum queues, retry queues and dead-letter queues.

For a consumer queue Q bound to (exchange, routing keys):
  Q                 quorum; x-delivery-limit; dead-letters (at-least-once) to hall.dlx with key Q
  Q.retry.<ms>      quorum; TTL <ms>; dead-letters back to Q through the default exchange
  Q.dlq             quorum; where poison and exhausted messages rest until replayed
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from services.contracts import CHANNELS_EXCHANGE, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE


@dataclass(frozen=True)
class QueueSpec:
    """One consumer purpose: a queue and what it is bound to."""

    name: str
    bindings: tuple[tuple[str, str], ...]  # (exchange, routing key)
    retry_delays_ms: tuple[int, ...] = (1000, 5000, 30000)
    delivery_limit: int = 10
    group_size: int | None = None  # x-quorum-initial-group-size (replicas) of the queue, its retry queues and DLQ
    extra: dict = field(default_factory=dict)

    def retry_queue(self, delay_ms: int) -> str:
        """Name of the retry queue for one delay."""
        return f"{self.name}.retry.{delay_ms}"

    @property
    def dlq(self) -> str:
        """Name of the dead-letter queue."""
        return f"{self.name}.dlq"


def _quorum(group_size: int | None = None, **args) -> dict:
    # The group size is part of a queue's identity: a declare with another value (or with one where the queue
    # was declared without) fails with PRECONDITION_FAILED, so it is set only when configured (docs/deploy.md).
    size = {"x-quorum-initial-group-size": group_size} if group_size else {}
    return {"x-queue-type": "quorum", **size, **args}


async def declare_exchanges(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    """Declare the hall's exchanges (idempotent)."""
    topic, direct = aio_pika.ExchangeType.TOPIC, aio_pika.ExchangeType.DIRECT
    return {
        EVENTS_EXCHANGE: await channel.declare_exchange(EVENTS_EXCHANGE, topic, durable=True),
        CHANNELS_EXCHANGE: await channel.declare_exchange(CHANNELS_EXCHANGE, topic, durable=True),
        DEAD_LETTER_EXCHANGE: await channel.declare_exchange(DEAD_LETTER_EXCHANGE, direct, durable=True),
        RETRY_EXCHANGE: await channel.declare_exchange(RETRY_EXCHANGE, direct, durable=True),
    }


async def declare_queue(channel: AbstractChannel, spec: QueueSpec) -> aio_pika.abc.AbstractQueue:
    """Declare a consumer queue with its retry and dead-letter queues and bindings."""
    ex = await declare_exchanges(channel)
    dlq = await channel.declare_queue(spec.dlq, durable=True, arguments=_quorum(spec.group_size))
    await dlq.bind(ex[DEAD_LETTER_EXCHANGE], routing_key=spec.name)
    for delay in spec.retry_delays_ms:
        rq = await channel.declare_queue(
            spec.retry_queue(delay),
            durable=True,
            arguments=_quorum(
                spec.group_size,
                **{
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": spec.name,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            ),
        )
        await rq.bind(ex[RETRY_EXCHANGE], routing_key=spec.retry_queue(delay))
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments=_quorum(
            spec.group_size,
            **{
                "x-delivery-limit": spec.delivery_limit,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": spec.name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                **spec.extra,
            },
        ),
    )
    for exchange, key in spec.bindings:
        await queue.bind(ex[exchange], routing_key=key)
    return queue
