"""Ledger commands: `verify-audit [--community X]`, `export-events --to F.jsonl`, `rebuild --from F.jsonl`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, update
from sqlmodel import select

from services.ledger import audit, replay
from services.ledger.models import ConsumedEvent, Entry, metadata
from services.runtime.db import Database
from services.runtime.settings import get_settings
from services.runtime.tables import BusTables
from services.runtime.uow import UnitOfWork


def _db() -> Database:
    return Database(get_settings().database_url("ledger"))


def verify_audit(argv: list[str]) -> None:
    """Recompute every community's hash chain; exit 1 naming the first broken record."""
    p = argparse.ArgumentParser(prog="python -m services.ledger verify-audit")
    p.add_argument("--community", default=None)
    args = p.parse_args(argv)

    async def run() -> tuple[int, list[audit.Broken]]:
        db = _db()
        try:
            return await audit.verify(db, args.community)
        finally:
            await db.dispose()

    checked, broken = asyncio.run(run())
    for b in broken:
        print(f"审计链断裂 / audit chain broken: {b}")
    if broken:
        raise SystemExit(1)
    print(f"审计链完好 / audit chain intact: {checked} records")


def export_events(argv: list[str]) -> None:
    """Write the consumed envelopes as JSONL."""
    p = argparse.ArgumentParser(prog="python -m services.ledger export-events")
    p.add_argument("--to", required=True, type=Path)
    args = p.parse_args(argv)

    async def run() -> int:
        db = _db()
        try:
            return await replay.export(db, args.to)
        finally:
            await db.dispose()

    print(f"exported {asyncio.run(run())} envelopes to {args.to}")


async def rebuild_into(db: Database, path: Path) -> int:
    """Migrate an empty database, replay the envelopes into it, and mark the re-emitted events as sent."""
    from services.ledger.app import HANDLERS, WORKCAL, spec
    from services.runtime.migrate import upgrade

    await upgrade(db, spec().migrations)
    tables = BusTables(metadata)
    async with db.session() as s:
        entries = (await s.exec(select(func.count()).select_from(Entry))).one()
        consumed = (await s.exec(select(func.count()).select_from(ConsumedEvent))).one()
        if entries or consumed:
            raise SystemExit("rebuild needs an empty ledger database")

    @asynccontextmanager
    async def uow_factory(cause):
        async with db.session() as session:
            yield UnitOfWork(session, tables, service="ledger", on_commit=lambda: None, cause=cause, actor="replay")

    n = await replay.rebuild(uow_factory, {**HANDLERS, **WORKCAL}, replay.read_jsonl(path))
    async with db.session() as s:
        # The original run already announced these changes: a rebuild must not publish them again.
        now = dt.datetime.now(dt.UTC)
        await s.exec(update(tables.outbox).where(tables.outbox.c.sent_at.is_(None)).values(sent_at=now))
        await s.commit()
    return n


def rebuild(argv: list[str]) -> None:
    """Replay a JSONL file of consumed envelopes into the (empty) configured ledger database."""
    p = argparse.ArgumentParser(prog="python -m services.ledger rebuild")
    p.add_argument("--from", dest="source", required=True, type=Path)
    args = p.parse_args(argv)

    async def run() -> int:
        db = _db()
        try:
            return await rebuild_into(db, args.source)
        finally:
            await db.dispose()

    print(f"replayed {asyncio.run(run())} envelopes")


COMMANDS = {"verify-audit": verify_audit, "export-events": export_events, "rebuild": rebuild}
