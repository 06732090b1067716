"""`make run`'s launcher refuses to start, naming the missing piece, when RabbitMQ or Redis is unreachable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.platform import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HALL_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}, "RabbitMQ"),
        ({"HALL_REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis"),
    ],
)
def test_launcher_names_what_is_missing(tmp_path, env, named):
    out = subprocess.run(
        [sys.executable, "-m", "services.runtime.launch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HALL_VAR_DIR": str(tmp_path), **env},
    )
    assert out.returncode == 2
    assert named in out.stderr and "Start it" in out.stderr, out.stderr


async def test_start_up_summary_counts_each_services_dead_letters(hall_env, monkeypatch):
    """`make run` names the dead letters each service holds: counted by the service's own `dlq count`."""
    import aio_pika

    from services.runtime.launch import banner, dead_letters
    from services.runtime.topology import QueueSpec, declare_queue

    monkeypatch.setenv("HALL_ENV", "test")  # the child processes read the same settings (hall_env's vhost)
    conn = await aio_pika.connect(hall_env.amqp_url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        for queue in ("ledger.events", "meeting.matters"):
            await declare_queue(ch, QueueSpec(queue, ()))
        for i in range(3):  # three messages resting in the ledger's DLQ, none in the meeting's
            await ch.default_exchange.publish(
                aio_pika.Message(b"{}", message_id=f"m{i}"), routing_key="ledger.events.dlq"
            )

    found = await dead_letters(["ledger", "meeting", "console"])
    assert found == {"ledger": {"ledger.events": 3}, "meeting": {"meeting.matters": 0}}
    text = banner(["ledger", "meeting"], found)
    assert "dead letters: ledger 3, meeting 0" in text
    assert "ledger.events.dlq holds 3: python -m services.ledger dlq list --queue ledger.events" in text
    assert "meeting.matters.dlq" not in text
