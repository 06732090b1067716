"""Alembic migrations per service, run in-process before the service serves.

Each service has `migrations/` with `env.py` calling `run_env(metadata)` and `versions/`.
`python -m services.runtime.migrate revision <service> -m "message"` autogenerates a revision.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import tempfile
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from services.runtime.db import Database, is_sqlite

_LOCK_KEY = 0x4A1E  # pg advisory lock id shared by migrators of one database


def _config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py: run with the connection handed in by upgrade()."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade(db: Database, script_location: Path) -> None:
    """Upgrade the database to head; concurrent replicas wait for each other."""
    cfg = _config(script_location)

    def _run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with db.engine.connect() as conn:
        if not is_sqlite(db.url):
            # Replicas starting together must not both create the same tables.
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            await conn.commit()
        try:
            await conn.run_sync(_run)
            await conn.commit()
        finally:
            if not is_sqlite(db.url):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                await conn.commit()


async def _autogenerate(service: str, message: str) -> None:
    pkg = importlib.import_module(f"services.{service}")
    location = Path(str(pkg.__file__)).parent / "migrations"
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/scratch.db")
        await upgrade(db, location)
        cfg = _config(location)

        def _rev(sync_conn) -> None:
            cfg.attributes["connection"] = sync_conn
            command.revision(cfg, message=message, autogenerate=True)

        async with db.engine.connect() as conn:
            await conn.run_sync(_rev)
        await db.dispose()


def main() -> None:
    """CLI: autogenerate a revision for a service from its models."""
    parser = argparse.ArgumentParser(prog="python -m services.runtime.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="autogenerate a migration from the service's models")
    rev.add_argument("service")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    asyncio.run(_autogenerate(args.service, args.message))


if __name__ == "__main__":
    main()
