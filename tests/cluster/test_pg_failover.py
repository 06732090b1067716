"""The five services on a PostgreSQL primary with a streaming hot standby; the standby promoted mid-stream.

Each service's URL names both servers (`host=…&host=…&target_session_attrs=read-write`), so its connections go to
whichever server accepts writes. Mid-stream the primary is stopped and the standby promoted. Afterwards every
report accepted before, during and after is in one matter and one ledger entry (nothing committed was lost),
every outbox row is sent, the DLQs are empty; the recovery time is printed.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cluster.reconcile import Stream, in_background, settle
from tests.e2e.platform import SERVICES, Platform
from tests.e2e.test_fault_matrix import _check_stores

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]  # a first test also boots the nodes


async def _create_databases(admin_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        for s in SERVICES:
            await conn.execute(f'CREATE DATABASE "{s}"')
    finally:
        await conn.close()


async def _is_primary(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return not await conn.fetchval("SELECT pg_is_in_recovery()")
    finally:
        await conn.close()


def test_standby_promoted_mid_stream(tmp_path, vhost, pg_pair):
    """Stop the primary and promote the standby while reports stream in; the services reconnect and go on."""
    asyncio.run(_create_databases(pg_pair.single_url(0, "postgres").replace("+asyncpg", "")))
    urls = {s: pg_pair.url(s) for s in SERVICES}
    env = {f"{s.upper()}_DATABASE_URL": u for s, u in urls.items()}
    with Platform(tmp_path, vhost, extra_env=env).running() as p:
        stream = Stream(p)
        stream.post(10)
        at: list[float] = []

        def fail_over():
            at.append(time.monotonic())
            pg_pair.pg_ctl(0, "stop", "-m", "fast")  # a clean stop: the standby has every committed WAL record
            pg_pair.pg_ctl(1, "promote")

        promoted: list = []
        stream.post(40, on={5: lambda: promoted.append(in_background(fail_over))})
        thread, errors = promoted[0]
        thread.join(120)
        assert not errors, errors
        assert asyncio.run(_is_primary(pg_pair.single_url(1, "postgres").replace("+asyncpg", "")))
        settle("postgresql-standby-promoted", p, stream, [vhost], at[0], db_urls=urls)
        _check_stores(p, vhost, urls)  # and no queue of the vhost holding a ready or unacknowledged message
