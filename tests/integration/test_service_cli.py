"""Every service's command line does what README promises: `migrate`, `dlq list`, `dlq replay` (a process each)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import aio_pika
import pytest
from alembic.script import ScriptDirectory

from services.contracts import DEAD_LETTER_EXCHANGE
from services.runtime import dlq
from services.runtime.migrate import _config
from services.runtime.topology import QueueSpec, declare_queue

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")


def cli(name: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m services.<name> args…` as an operator types it; a command that serves instead times out."""
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def operator_env(tmp_path, vhost) -> dict[str, str]:
    """An operator's shell: a private var dir (SQLite there by default) and a private vhost; ports nobody uses."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(
        PYTHONPATH=str(ROOT),
        HALL_VAR_DIR=str(tmp_path / "var"),
        HALL_AMQP_URL=vhost,
        HALL_ENV="test",
        HALL_LOG_JSON="false",
        **{f"{s.upper()}_PORT": "1" for s in SERVICES},  # serving by mistake fails at once instead of colliding
    )
    return env


def queues_of(name: str) -> list[QueueSpec]:
    """The service's consumer queues, as its app declares them."""
    from importlib import import_module

    from services.runtime.settings import get_settings

    spec = import_module(f"services.{name}.app").spec()
    return [s.spec for s in spec.subscriptions(get_settings())]


@pytest.mark.parametrize("name", SERVICES)
def test_migrate_brings_the_database_to_head(name, operator_env, tmp_path):
    out = cli(name, "migrate", env=operator_env)
    assert out.returncode == 0, out.stderr
    assert f"{name}: database at head" in out.stdout
    heads = ScriptDirectory.from_config(_config(ROOT / "services" / name / "migrations")).get_heads()
    with sqlite3.connect(tmp_path / "var" / f"{name}.db") as db:
        assert [r[0] for r in db.execute("select version_num from alembic_version")] == heads


async def _dead_letter(url: str, queues: list[QueueSpec]) -> dict[str, str]:
    """Declare the service's queues as it does, and dead-letter one message per queue as its consumer would."""
    ids = {}
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        for q in queues:
            await declare_queue(ch, q)
            ids[q.name] = str(uuid.uuid4())
            dlx = await ch.get_exchange(DEAD_LETTER_EXCHANGE)
            msg = aio_pika.Message(
                b'{"poison": true}',
                message_id=ids[q.name],
                type="matter.closed.v1",
                headers={"x-hall-reason": "failed 3 times: RuntimeError('boom')", "x-hall-queue": q.name},
            )
            await dlx.publish(msg, routing_key=q.name)
    return ids


async def _waiting_in(url: str, queue: str) -> list[str]:
    """The message ids waiting in a queue (taken off it)."""
    got = []
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        q = await ch.get_queue(queue, ensure=True)
        while (msg := await q.get(no_ack=True, fail=False)) is not None:
            got.append(msg.message_id)
    return got


@pytest.mark.parametrize("name", SERVICES)
def test_dlq_list_and_replay_for_every_queue_of_the_service(name, operator_env, hall_env):
    queues = queues_of(name)
    assert queues, f"{name} consumes nothing?"
    ids = asyncio.run(_dead_letter(hall_env.amqp_url, queues))

    listed = cli(name, "dlq", "list", env=operator_env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert {r["event_id"]: r["origin"] for r in rows} == {i: q for q, i in ids.items()}
    assert all(r["reason"] == "failed 3 times: RuntimeError('boom')" for r in rows)

    first = queues[0].name
    one = cli(name, "dlq", "replay", "--queue", first, "--id", ids[first], env=operator_env)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {"queue": first, "replayed": 1}
    assert asyncio.run(_waiting_in(hall_env.amqp_url, first)) == [ids[first]]

    rest = cli(name, "dlq", "replay", env=operator_env)
    assert rest.returncode == 0, rest.stderr
    moved = {d["queue"]: d["replayed"] for d in map(json.loads, rest.stdout.splitlines())}
    assert moved == {q.name: (0 if q.name == first else 1) for q in queues}
    for q in queues:
        assert asyncio.run(dlq.depth(hall_env.amqp_url, q.name)) == 0


def test_dlq_list_before_the_service_ever_ran_says_so(operator_env):
    out = cli("meeting", "dlq", "list", env=operator_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "no dead-letter queue" in out.stderr, out.stderr
