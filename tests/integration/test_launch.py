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


async def test_a_service_restarted_on_purpose_runs_once_again(hall_env, monkeypatch):
    """`make run` restarts triage onto the model trained beside it: one new process, no second from its watcher."""
    import asyncio
    import socket

    from services.runtime.launch import Supervisor, wait_ready
    from services.runtime.settings import get_settings

    with socket.socket() as s:  # a free port: other tests' platforms may hold the default one
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("FEEDBACK_PORT", str(s.getsockname()[1]))
    get_settings.cache_clear()
    sup = Supervisor(["feedback"], hall_env.var_dir)
    await sup.start("feedback")
    try:
        await wait_ready(["feedback"], timeout=120)
        first = sup.procs["feedback"]
        await sup.restart_one("feedback")
        await wait_ready(["feedback"], timeout=120)
        second = sup.procs["feedback"]
        assert first.returncode is not None and second.pid != first.pid

        # The old process's watcher has finished: had it decided to restart, it would still be waiting its 1 s.
        def watching(pid: int) -> bool:
            return any(t.get_name() == f"feedback:{pid}:watch" and not t.done() for t in asyncio.all_tasks())

        for _ in range(100):
            if not watching(first.pid):
                break
            await asyncio.sleep(0.05)
        assert not watching(first.pid)
        assert sup.procs["feedback"] is second and second.returncode is None and watching(second.pid)
        assert (hall_env.var_dir / "run" / "feedback.pid").read_text() == str(second.pid)
    finally:
        await sup.stop()
