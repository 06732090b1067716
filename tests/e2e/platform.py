"""Run the whole platform as OS processes, through the same launcher `make run` uses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from services.runtime.auth import mint
from services.runtime.settings import PORTS, Settings
from tests.support import consumer_count, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")


def eventually(check, *, timeout: float = 60, interval: float = 0.25, what: str = "condition"):
    """`wait_for` with the e2e tier's patience: processes answer slowly and refuse connections while starting."""
    return wait_for(
        check, timeout, interval=interval, what=what, ignoring=(httpx.HTTPError, AssertionError, KeyError, IndexError)
    )


def _free_port_base() -> int:
    """A base port whose next ten ports are free, so parallel test runs never collide."""
    import random
    import socket

    # Below the kernel's ephemeral range: a port checked free there can be taken a moment later by any
    # outgoing connection (a service's own broker or database link), and a service then fails to bind it.
    low = 20000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_start = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_start = 32768
    high = max(low + 1000, min(40000, ephemeral_start) - 100)
    for _ in range(100):
        base = random.randrange(low, high, 10)
        try:
            for port in range(base, base + 10):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


class Platform:
    """The five services and the console as processes under the launcher, on private ports and vhost."""

    def __init__(self, tmp_path: Path, amqp_url: str, *, port_base: int | None = None, extra_env: dict | None = None):
        self.var = tmp_path / "var"
        port_base = port_base or _free_port_base()
        # The console (port offset 0) is started by the launcher too; its port sets CONSOLE_PORT below.
        self.ports = {n: port_base + (PORTS[n] - 8000) for n in (*SERVICES, "console")}
        # Its own copy of the holiday table's seed file (years the county enters live in the services' databases),
        # never the file the test process itself (and the tests after this one) read.
        self.var.mkdir(parents=True, exist_ok=True)
        holidays = self.var / "holidays.yaml"
        shutil.copy(ROOT / "deploy" / "holidays.yaml", holidays)
        self.env = {
            **os.environ,
            "HALL_HOLIDAYS": str(holidays),
            "HALL_VAR_DIR": str(self.var),
            "HALL_AMQP_URL": amqp_url,
            "HALL_ENV": "test",
            "HALL_RETRY_DELAYS_MS": "[200, 1000]",
            "HALL_LOG_JSON": "true",
            # Rate limits count per platform: one test's lookups never spend another's budget (Redis is shared).
            "HALL_RATELIMIT_PREFIX": f"hall:rl:test-{uuid.uuid4().hex[:10]}",
            **{f"{n.upper()}_PORT": str(p) for n, p in self.ports.items()},
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.settings = Settings(var_dir=self.var)
        self.http = httpx.Client(timeout=10)

    def start(self, timeout: float = 240) -> Platform:
        """Start the launcher and wait until it reports every service ready."""
        self.var.mkdir(parents=True, exist_ok=True)
        self._log = open(self.var / "launch.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.runtime.launch"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        ready = self.var / "run" / "ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"launcher exited with {self.proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"platform not ready after {timeout} s: {self.tail()}")
            time.sleep(0.2)
        return self

    @contextmanager
    def running(self) -> Iterator[Platform]:
        """Started for a `with` block, its log tail shown if the block fails, always stopped."""
        self.start()
        try:
            yield self
        except Exception:
            print(self.tail(80))
            raise
        finally:
            self.stop()

    def tail(self, n: int = 40) -> str:
        """The last lines of the launcher's log."""
        path = self.var / "launch.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the launcher, which drains every service)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.http.close()
        self._log.close()

    def pid(self, service: str) -> int:
        """The current pid of a service process."""
        return int((self.var / "run" / f"{service}.pid").read_text())

    def kill(self, service: str, sig: int = signal.SIGKILL) -> int:
        """Signal a service process (the launcher restarts it); return the old pid."""
        pid = self.pid(service)
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, service: str, old_pid: int, timeout: float = 60) -> None:
        """Wait until the launcher has restarted a service and it is ready again."""
        eventually(lambda: self.pid(service) != old_pid, timeout=timeout, what=f"{service} restarted")
        eventually(
            lambda: self.http.get(self.url(service, "/readyz")).status_code == 200,
            timeout=timeout,
            what=f"{service} ready",
        )

    def url(self, service: str, path: str) -> str:
        """Absolute URL of a path on a service."""
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def token(self, role: str = "county_operator", communities: tuple[str, ...] = ("*",), sub: str = "e2e") -> str:
        """A staff token from the platform's built-in issuer."""
        return mint(sub=sub, role=role, communities=list(communities), settings=self.settings)

    def headers(self, role: str = "county_operator", communities: tuple[str, ...] = ("*",)) -> dict:
        """Authorization headers for a role."""
        return {"Authorization": f"Bearer {self.token(role, communities)}"}

    def get(self, service: str, path: str, **kw) -> httpx.Response:
        """GET on a service as the county operator unless headers are given."""
        kw.setdefault("headers", self.headers())
        return self.http.get(self.url(service, path), **kw)

    def consumer_count(self, service: str, queue: str, outcome: str) -> float:
        """`tests.support.consumer_count` of one service's process, from its /metrics."""
        return consumer_count(queue, outcome, self.get(service, "/metrics").text)

    def post(self, service: str, path: str, json=None, **kw) -> httpx.Response:
        """POST JSON on a service as the county operator unless headers are given."""
        kw.setdefault("headers", self.headers())
        return self.http.post(self.url(service, path), json=json, **kw)
