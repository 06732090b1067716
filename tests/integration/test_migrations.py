"""Every service's migrations build its schema on SQLite and PostgreSQL, matching its models exactly."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.runtime.db import Database
from services.runtime.migrate import upgrade
from tests.support import create_pg_database, drop_pg_database

pytestmark = pytest.mark.integration

SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")


def _spec(name: str):
    return importlib.import_module(f"services.{name}.app").spec()


async def _check(url: str, name: str) -> None:
    spec = _spec(name)
    db = Database(url)
    try:
        await upgrade(db, spec.migrations)
        await upgrade(db, spec.migrations)  # a second run (a restarted replica) is a no-op

        def diff(sync_conn):
            ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
            return compare_metadata(ctx, spec.metadata)

        async with db.engine.connect() as conn:
            changes = await conn.run_sync(diff)
        assert changes == [], (
            f"{name}: models and migrations differ; run `python -m services.runtime.migrate "
            f"revision {name} -m ...`: {changes}"
        )
    finally:
        await db.dispose()


@pytest.mark.parametrize("name", SERVICES)
async def test_migrations_match_models_on_sqlite(tmp_path, name):
    await _check(f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}", name)


@pytest.mark.parametrize("name", SERVICES)
async def test_migrations_match_models_on_postgres(name):
    url = await create_pg_database(f"mig_{name}")
    try:
        await _check(url, name)
    finally:
        await drop_pg_database(url)
