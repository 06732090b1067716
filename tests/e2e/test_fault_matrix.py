"""The fault matrix: under a steady stream of reports, kill, stop and disturb each part; then reconcile everything.

Every case is bounded (a fixed number of reports, each fault a few seconds) and restores what it broke in a
`finally`. After each: every accepted report in exactly one matter, every matter in one ledger entry, every
outbox row sent, no queue holding a ready or unacked message, DLQs empty. Recovery times are printed as
`FAULT <case> recovery_s=<s>` lines (docs/faults.md records them).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.faultproxy import FaultProxy
from tests.e2e.platform import ROOT, SERVICES, Platform, eventually
from tests.e2e.test_faults import _reconcile, _stream
from tests.support import create_pg_database, drop_pg_database, rabbitmqctl

pytestmark = pytest.mark.e2e


def _pg_cluster() -> str:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def _check_stores(p: Platform, amqp_url: str, db_urls: dict[str, str] | None = None) -> None:
    """Every outbox row sent (all five databases) and no queue of the vhost holding a ready or unacked message."""

    async def unsent() -> dict[str, int]:
        out = {}
        for s in SERVICES:
            url = (db_urls or {}).get(s) or p.settings.database_url(s)
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    out[s] = (await conn.execute(text("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"))).scalar()
            finally:
                await engine.dispose()
        return out

    eventually(lambda: not any(asyncio.run(unsent()).values()), timeout=60, what="every outbox row sent")
    vhost = unquote(urlparse(amqp_url).path.lstrip("/"))

    def queues_empty():
        rows = rabbitmqctl(
            "list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "messages_ready", "messages_unacknowledged"
        )
        busy = [line for line in rows.splitlines() if line.split() and line.split()[1:] != ["0", "0"]]
        assert not busy, busy
        return True

    eventually(queues_empty, timeout=60, interval=2, what="every queue drained and acked")  # rabbitmqctl: a VM each


def _finish(case: str, p: Platform, ids: list[str], amqp_url: str, fault_at: float, db_urls=None) -> None:
    _reconcile(p, ids, amqp_url)
    recovery = time.monotonic() - fault_at
    _check_stores(p, amqp_url, db_urls)
    print(f"FAULT {case} recovery_s={recovery:.1f}", file=sys.stderr)


@pytest.fixture
def pg_urls():
    """A PostgreSQL database per service, dropped afterwards."""
    urls = {s: asyncio.run(create_pg_database(f"faults_{s}")) for s in SERVICES}
    yield urls
    for u in urls.values():
        asyncio.run(drop_pg_database(u))


@pytest.fixture
def pg_platform(tmp_path, vhost, pg_urls):
    """The platform with every service on its own PostgreSQL database."""
    env = {f"{s.upper()}_DATABASE_URL": u for s, u in pg_urls.items()}
    with Platform(tmp_path, vhost, extra_env=env).running() as p:
        yield p


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_each_service_killed_in_turn(platform, vhost, sig):
    """Each of the five services signalled in turn mid-stream; the launcher restarts it; nothing lost or doubled."""
    p = platform
    done: list[tuple[str, int, float]] = []

    def hit(service):
        return lambda: done.append((service, p.kill(service, sig), time.monotonic()))

    ids = _stream(p, 100, on={10 + 15 * i: hit(s) for i, s in enumerate(SERVICES)})
    for service, old, _ in done:
        p.wait_restarted(service, old)
    _finish(f"{sig.name.lower()}-each-service", p, ids, vhost, done[0][2])


def test_rabbitmq_stop_app_and_start_app(platform, vhost):
    """RabbitMQ's application stopped for 3 s mid-stream, then started."""
    p = platform
    back, at = threading.Event(), []

    def bounce():
        def run():
            try:
                at.append(time.monotonic())
                rabbitmqctl("stop_app")
                time.sleep(3)
            finally:
                rabbitmqctl("start_app")
                subprocess.run(["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120)
                back.set()

        threading.Thread(target=run, daemon=True).start()

    ids = _stream(p, 80, on={30: bounce})
    assert back.wait(120), "broker did not come back"
    _finish("rabbitmq-stop-start", p, ids, vhost, at[0])


def test_postgresql_restarted(pg_platform, vhost, pg_urls):
    """PostgreSQL restarted mid-stream with every service on it."""
    p = pg_platform
    at = []

    def restart():
        at.append(time.monotonic())
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", _pg_cluster(), "main", "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )

    ids = _stream(p, 80, on={30: restart})
    _finish("postgresql-restart", p, ids, vhost, at[0], pg_urls)


def test_redis_stopped(platform, vhost):
    """Redis shut down for 3 s mid-stream, then started again."""
    p = platform
    at = []
    cli = shutil.which("redis-cli") or "redis-cli"

    def outage():
        at.append(time.monotonic())
        try:
            subprocess.run([cli, "shutdown", "nosave"], check=False, capture_output=True, timeout=10)
            time.sleep(3)
        finally:
            subprocess.run(
                ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379"]
                + ["--save", "", "--appendonly", "no"],
                check=True,
                capture_output=True,
                timeout=10,
            )
            eventually(
                lambda: subprocess.run([cli, "ping"], capture_output=True, text=True).stdout.strip() == "PONG",
                timeout=20,
                what="redis back",
            )

    ids = _stream(p, 60, on={20: outage})
    _finish("redis-stop", p, ids, vhost, at[0])


class _ProxiedPlatform(Platform):
    """The platform with one service (triage) reaching the broker through a FaultProxy."""

    def __init__(self, tmp_path: Path, amqp_url: str, proxy: FaultProxy):
        super().__init__(tmp_path, amqp_url)
        u = urlparse(amqp_url)
        self.proxied_url = u._replace(netloc=f"{u.username}:{u.password}@127.0.0.1:{proxy.port}").geturl()
        self.triage: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> _ProxiedPlatform:
        """The launcher runs four services; triage runs alone on the proxied URL."""
        self.var.mkdir(parents=True, exist_ok=True)
        self._log = open(self.var / "launch.log", "ab")
        only = ",".join(s for s in SERVICES if s != "triage")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.runtime.launch", "--only", only],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.triage = subprocess.Popen(
            [sys.executable, "-m", "services.triage"],
            cwd=ROOT,
            env={**self.env, "HALL_AMQP_URL": self.proxied_url},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        eventually(lambda: (self.var / "run" / "ready").exists(), timeout=timeout, what="four services ready")
        eventually(
            lambda: self.http.get(self.url("triage", "/readyz")).status_code == 200, timeout=timeout, what="triage"
        )
        return self

    def stop(self) -> None:
        """Stop triage, then the rest."""
        if self.triage and self.triage.poll() is None:
            self.triage.send_signal(signal.SIGTERM)
            try:
                self.triage.wait(30)
            except subprocess.TimeoutExpired:
                self.triage.kill()
        super().stop()


def test_proxy_slows_cuts_and_drops_one_services_broker_link(tmp_path, vhost):
    """Triage's broker link slowed (200 ms a chunk), cut after 2 KiB, then every connection dropped twice."""
    proxy = FaultProxy().start()
    p = _ProxiedPlatform(tmp_path, vhost, proxy)
    at = []
    try:
        p.start()

        def slow():
            at.append(time.monotonic())
            proxy.delay_s = 0.2

        def cut():
            proxy.delay_s = 0.0
            proxy.cut_after = 2048

        def drop():
            # Intake accepts faster than triage's link carries the events: let the armed cut fire on the
            # traffic already on its way before the drops start (else the drop disarms it unused).
            eventually(lambda: proxy.cuts >= 1, timeout=30, what="the cut fault fired")
            proxy.cut_after = None
            proxy.drop_all()

        ids = _stream(p, 80, on={10: slow, 25: cut, 40: drop, 55: drop})
        assert proxy.cuts >= 1, "the cut fault never fired"
        _finish("proxy-slow-cut-drop", p, ids, vhost, at[0])
    finally:
        p.stop()
        proxy.stop()
