"""Several RabbitMQ nodes and a PostgreSQL primary with a hot standby, started on this host for one test session.

Every node runs from the distribution's own binaries as a child process in its own process group, with its own
name, ports and directories under a temporary directory and a private Erlang cookie (so it can never join the
machine's broker). `stop_all` kills every group and removes the directories, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

RABBIT_BIN = Path(os.environ.get("HALL_TEST_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
PG_BIN = Path(os.environ.get("HALL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NET_TICKTIME_S = 10  # a node silent this long is down to the others (the pause case waits past it)


def missing(kind: str) -> str | None:
    """Why the `rabbitmq` or `postgresql` half of the cluster tier cannot run here, or None."""
    if kind == "rabbitmq":
        for tool in ("rabbitmq-server", "rabbitmqctl"):
            if not (RABBIT_BIN / tool).exists():
                return f"{RABBIT_BIN / tool} not found (RabbitMQ server binaries; set HALL_TEST_RABBITMQ_BIN)"
        return None
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} not found (PostgreSQL server binaries; set HALL_TEST_PG_BIN)"
    if os.geteuid() == 0 and not _user_exists("postgres"):
        return "running as root and no user 'postgres' to run initdb as"
    return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def free_ports(n: int, low: int = 41000, high: int = 48000) -> list[int]:
    """`n` consecutive free ports, far from 5672/15672/25672 and below the ephemeral range."""
    import random

    for _ in range(200):
        base = random.randrange(low, high - n)
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return list(range(base, base + n))
    raise RuntimeError("no free ports")


def _wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not listening on {port} after {timeout} s")


def _kill_group(proc: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(15)


@dataclass
class RabbitNode:
    """One RabbitMQ node: name, AMQP and distribution ports, its own directories."""

    name: str
    port: int
    dist_port: int
    home: Path  # HOME (the private cookie), config, data and logs
    proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment rabbitmq-server and rabbitmqctl need for this node."""
        return {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.home / "advanced.config"),
            # No plugins (no management listener on 15672); the machine's broker keeps its own.
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.home / "plugins-expand"),
            "RABBITMQ_LOGS": str(self.home / "log" / "node.log"),
        }

    def prepare(self, cookie: str) -> None:
        """Write the node's cookie, config and (empty) plugin list."""
        (self.home / "log").mkdir(parents=True, exist_ok=True)
        c = self.home / ".erlang.cookie"
        c.write_text(cookie)
        c.chmod(0o400)
        (self.home / "enabled_plugins").write_text("[].\n")
        (self.home / "advanced.config").write_text("[].\n")
        (self.home / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.port}",
                    # As in deploy/k8s: a frozen node that wakes after the others declared it down finds a
                    # partition that has already ended; pause_minority left it partitioned (docs/faults.md).
                    "cluster_partition_handling = autoheal",
                    f"net_ticktime = {NET_TICKTIME_S}",
                    "loopback_users.guest = true",
                    "log.console = false",
                    "log.file.level = info",
                    "",
                ]
            )
        )

    def start(self, timeout: float = 120) -> None:
        """Start the node in the foreground of its own process group and wait for its AMQP port."""
        out = open(self.home / "log" / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env,
            cwd=self.home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        # `await_startup` fails at once while the VM has not registered its name yet: poll until it answers.
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: see {self.home / 'log'}")
            try:
                self.ctl("await_startup", timeout=timeout)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        _wait_port(self.port, timeout, self.proc, self.name)

    def ctl(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        """rabbitmqctl against this node."""
        r = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def log_tail(self, n: int = 30) -> str:
        """The last lines of the node's log."""
        path = self.home / "log" / "node.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else "(no log)"

    def kill(self) -> None:
        """Crash the node (SIGKILL to its whole process group)."""
        _kill_group(self.proc)

    def pause(self) -> None:
        """Freeze the node's VM (SIGSTOP): TCP still accepts, nothing answers."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused node run again."""
        os.killpg(self.proc.pid, signal.SIGCONT)


@dataclass
class RabbitCluster:
    """Three (or n) nodes joined into one cluster."""

    root: Path
    size: int = 3
    nodes: list[RabbitNode] = field(default_factory=list)

    def start(self) -> RabbitCluster:
        """Start the nodes and join the others to the first."""
        import uuid

        host = socket.gethostname().split(".")[0]
        ports = free_ports(2 * self.size)
        cookie = uuid.uuid4().hex.upper()
        tag = uuid.uuid4().hex[:6]
        for i in range(self.size):
            name, home = f"hallc{i + 1}-{tag}@{host}", self.root / f"rabbit{i + 1}"
            node = RabbitNode(name, ports[2 * i], ports[2 * i + 1], home)
            node.prepare(cookie)
            self.nodes.append(node)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.size) as pool:  # booting is CPU-bound Erlang; in parallel it overlaps waits
            list(pool.map(RabbitNode.start, self.nodes))
        first = self.nodes[0]

        def join(node: RabbitNode) -> None:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")

        for node in self.nodes[1:]:
            join(node)
        running = first.ctl("eval", "length(rabbit_nodes:all_running()).").strip()
        assert running == str(self.size), f"{running} nodes running, wanted {self.size}"
        return self

    @property
    def addresses(self) -> str:
        """HALL_AMQP_NODES for this cluster."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def any_up(self, exclude: RabbitNode | None = None) -> RabbitNode:
        """A node that is running (for rabbitmqctl)."""
        for n in self.nodes:
            if n is not exclude and n.proc is not None and n.proc.poll() is None:
                return n
        raise RuntimeError("no node is up")

    def by_name(self, name: str) -> RabbitNode:
        """The node of an Erlang node name."""
        return next(n for n in self.nodes if n.name == name)

    def stop_all(self) -> None:
        """Kill every node (paused ones are resumed first, so the kill lands) and remove their directories."""
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(n.proc.pid, signal.SIGCONT)
                _kill_group(n.proc)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PgPair:
    """A PostgreSQL primary and a hot standby made with pg_basebackup, each in its own directory and port."""

    root: Path
    ports: list[int] = field(default_factory=list)
    user: str | None = None  # the OS user that owns the data directories (postgres when we are root)

    def _run(self, *args: str, timeout: float = 120) -> str:
        cmd = [*args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def data(self, i: int) -> Path:
        """Data directory of server i (0 = first primary)."""
        return self.root / f"pg{i}"

    def start(self) -> PgPair:
        """initdb the primary, start it, clone the standby with pg_basebackup, start it in recovery."""
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # mkdtemp makes it private to us; the server's user must reach its data
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.ports = free_ports(2, 48000, 50000)
        p0, p1 = self.ports
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data(0)), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(self.data(0) / "postgresql.conf", "a") as f:
            f.write(
                f"port = {p0}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n"
                "max_connections = 200\n"
            )
        with open(self.data(0) / "pg_hba.conf", "a") as f:
            f.write("host replication all 127.0.0.1/32 trust\n")
        self.pg_ctl(0, "start")
        self._run(
            str(PG_BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(p0), "-U", "postgres", "-D", str(self.data(1)), "-R", "-X", "stream"),
        )
        with open(self.data(1) / "postgresql.conf", "a") as f:
            f.write(f"port = {p1}\n")
        self.pg_ctl(1, "start")
        return self

    def pg_ctl(self, i: int, action: str, *extra: str) -> None:
        """pg_ctl on server i (start waits until it accepts connections)."""
        args = [str(PG_BIN / "pg_ctl"), "-D", str(self.data(i)), "-w", "-t", "60"]
        if action == "start":
            args += ["-l", str(self.root / f"pg{i}.log")]
        self._run(*args, action, *extra)

    def url(self, database: str) -> str:
        """A multi-host SQLAlchemy/asyncpg URL that always reaches the server that accepts writes."""
        hosts = "&".join(f"host=127.0.0.1:{p}" for p in self.ports)
        return f"postgresql+asyncpg://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def single_url(self, i: int, database: str) -> str:
        """A URL of one server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.ports[i]}/{database}"

    def stop_all(self) -> None:
        """Stop both servers (immediate) and remove their directories."""
        for i in (0, 1):
            if (self.data(i) / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    self.pg_ctl(i, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)
