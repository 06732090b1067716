"""Event replay: record every consumed envelope, export them as JSONL, rebuild a ledger from them."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from sqlmodel import select

from services.contracts import Envelope, catalog
from services.ledger.models import ConsumedEvent
from services.runtime.uow import UnitOfWork

Handler = Callable[[UnitOfWork, Envelope, object], Awaitable[None]]


def recorded(handler: Handler) -> Handler:
    """Wrap a handler so the envelope it consumes is kept (same transaction) for a later replay."""

    @functools.wraps(handler)
    async def run(uow: UnitOfWork, env: Envelope, data) -> None:
        await handler(uow, env, data)
        body = json.loads(env.to_bytes())
        received = env.time
        uow.session.add(ConsumedEvent(event_id=env.id, type=env.type, body=body, received_at=received))

    return run


async def export(db, path: Path) -> int:
    """Write every consumed envelope, in consumption order, as one JSON object per line; return the count."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        async with db.session() as s:
            rows = (await s.exec(select(ConsumedEvent).order_by(ConsumedEvent.id))).all()
        for row in rows:
            out.write(json.dumps(row.body, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterable[bytes]:
    """The envelopes of a JSONL file as message bodies (blank lines skipped)."""
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield line.strip()


async def rebuild(uow_factory, handlers: dict[str, Handler], bodies: Iterable[bytes]) -> int:
    """Replay envelopes through the handlers, one transaction each (already-consumed ids are skipped)."""
    n = 0
    for body in bodies:
        env, data = catalog.parse(body)
        handler = handlers.get(env.type)
        if handler is None:
            continue
        async with uow_factory(env) as uow:
            seen = await uow.session.exec(select(ConsumedEvent.id).where(ConsumedEvent.event_id == env.id))
            if seen.first() is not None:
                continue
            await handler(uow, env, data)
            await uow.commit()
        n += 1
    return n
