"""Run the whole platform locally: check RabbitMQ and Redis, start the five services, supervise them.

    python -m services.runtime.launch [--seed] [--only intake,triage]

Each service is its own OS process (`python -m services.<name>`), exactly as in production; a process
that dies is restarted. Ctrl-C stops them all gracefully (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from services.runtime.amqp import node_urls
from services.runtime.settings import PORTS, get_settings

SERVICES = ("intake", "triage", "meeting", "ledger", "feedback", "console")


def _reachable(url: str, default_port: int) -> str | None:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=2):
            return None
    except OSError as exc:
        return str(exc)


def preflight() -> list[str]:
    """Name every missing piece (RabbitMQ, Redis) with how to start it."""
    s = get_settings()
    problems = []
    nodes = node_urls(s.amqp_url, s.amqp_nodes)
    errors = [_reachable(u, 5672) for u in nodes]
    if all(errors):  # one node of a cluster is enough to start: the others are tried after a loss
        where = ", ".join(f"{urlparse(u).hostname}:{urlparse(u).port or 5672}" for u in nodes)
        problems.append(
            f"RabbitMQ is not reachable at {where} ({errors[0]}). Start it: `rabbitmq-server -detached`"
            " (or set HALL_AMQP_URL / HALL_AMQP_NODES)."
        )
    if err := _reachable(s.redis_url, 6379):
        problems.append(
            f"Redis is not reachable at {s.redis_url} ({err}). Start it: "
            '`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`'
            " (or set HALL_REDIS_URL)."
        )
    return problems


class Supervisor:
    """Start, watch and restart the service processes; write their pids under var/run."""

    def __init__(self, names: list[str], var_dir: Path, *, restart: bool = True):
        self.names, self.var_dir, self.restart = names, var_dir, restart
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.env: dict[str, dict[str, str]] = {}  # extra environment per service (e.g. the console's intake key)
        self.stopping = False
        self._tasks: set[asyncio.Task] = set()
        self._replaced: set[int] = set()  # pids restarted on purpose: their watchers must not start another
        (var_dir / "run").mkdir(parents=True, exist_ok=True)
        (var_dir / "logs").mkdir(parents=True, exist_ok=True)

    async def start(self, name: str) -> None:
        """Start one service process, its output prefixed with its name."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env.get(name, {})},
        )
        self.procs[name] = proc
        (self.var_dir / "run" / f"{name}.pid").write_text(str(proc.pid))
        for role, coro in (("pipe", self._pipe(name, proc)), ("watch", self._watch(name, proc))):
            task = asyncio.create_task(coro, name=f"{name}:{proc.pid}:{role}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        with open(self.var_dir / "logs" / f"{name}.log", "ab") as logf:  # noqa: ASYNC230 (a local log file)
            async for line in proc.stdout:
                logf.write(line)
                logf.flush()
                sys.stdout.write(f"{name:<8} | {line.decode(errors='replace')}")
                sys.stdout.flush()

    async def _watch(self, name: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self.stopping or not self.restart or proc.pid in self._replaced:
            return
        print(f"launch   | {name} exited with {code}; restarting in 1 s", flush=True)
        await asyncio.sleep(1)
        if not self.stopping:
            await self.start(name)

    async def restart_one(self, name: str) -> None:
        """Stop one service gracefully and start it again (so it loads what changed on disk, e.g. a new model)."""
        proc = self.procs[name]
        self._replaced.add(proc.pid)
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
        if not self.stopping:
            await self.start(name)

    async def stop(self, grace_s: float = 20) -> None:
        """SIGTERM every service (graceful drain), SIGKILL what is left after the grace period."""
        self.stopping = True
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                proc.kill()


def _get(url: str, timeout: float = 2) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, http.client.HTTPException) as e:
        # HTTPException: before the service listens, a connect to a port in the ephemeral range can meet
        # itself (TCP simultaneous open) and read its own request back as a "status line".
        return 0, repr(e)


async def wait_ready(names: list[str], timeout: float | None = None) -> None:
    """Wait until every service answers /readyz with 200 (HALL_LAUNCH_READY_S, default 180 s)."""
    # A shared 2-core machine under a load average of 15 can take longer than 90 s to start five services.
    timeout = timeout if timeout is not None else float(os.environ.get("HALL_LAUNCH_READY_S") or 180)
    s = get_settings()
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            status, _ = await asyncio.to_thread(_get, f"http://{s.host}:{s.port(name)}/readyz")
            if status == 200:
                pending.discard(name)
        if pending:
            await asyncio.sleep(0.3)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")


DEMO_REPORTS = [
    ("jinshan", "wechat_group", "@物业 景湖花园5栋2单元楼道灯又不亮了[图片]", {}),
    ("xueyuan", "door_visit", "金泰和庄12号楼2单元公共下水管反复堵塞，一楼商铺不同意开挖维修，楼上住户意见很大", {}),
    ("xueyuan", "miniprogram", "金泰和庄3号楼地下室配电箱冒烟，有焦糊味，电线裸露", {}),
    (
        "wenzhuang",
        "opinion_box",
        "建议金东小区加装电梯，老人上下楼太难了",
        {
            "kind": "suggestion",
            "provenance": {"box": "金东小区东门意见箱", "collected_at": "2026-11-28T09:00:00+08:00"},
        },
    ),
]


async def seed() -> None:
    """Submit the demo reports once (idempotent by channel message id)."""
    from services.runtime.auth import mint

    s = get_settings()
    token = mint(sub="demo-seed", role="county_operator", communities=["*"], hours=1)
    for i, (community, channel, text, extra) in enumerate(DEMO_REPORTS, 1):
        body = {"community": community, "channel": channel, "channel_message_id": f"demo-{i}", "text": text, **extra}
        req = urllib.request.Request(
            f"http://{s.host}:{s.port('intake')}/v1/reports",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            await asyncio.to_thread(urllib.request.urlopen, req, None, 5)
        except urllib.error.HTTPError as exc:  # a demo report refused must not stop the platform
            print(
                f"launch   | demo report {i} refused: {exc.code} {exc.read().decode(errors='replace')[:300]}",
                flush=True,
            )


async def _train_then_seed(sup: Supervisor, *, train: bool, seed_demo: bool) -> None:
    """Train the triage model beside the running platform and restart triage onto it; then seed the demo."""
    if train:
        # Triage grades with its rules alone until a model exists: the platform is usable at once, the model comes
        # after (started once everything is ready, so training never slows the services' start).
        print(
            "launch   | training the triage model on every writer of the corpus (about 11 min, once); until then "
            "triage grades with its rules alone",
            flush=True,
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.triage", "train")
        try:
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # the launcher is stopping
                proc.kill()
        if code == 0:
            await sup.restart_one("triage")
            await wait_ready(["triage"])
            print("launch   | triage model trained; triage restarted and grades with rules + model", flush=True)
        else:
            print("launch   | triage model training failed; triage grades with its rules alone", flush=True)
    if seed_demo:
        await seed()


async def console_env() -> dict[str, str]:
    """The console's intake API key: the operator's CONSOLE_INTAKE_API_KEY, or in development a fresh one."""
    settings = get_settings()
    if settings.console.intake_api_key or settings.env == "production":
        return {}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "services.intake", "apikey", "create", "--name", "console-dev"),
        *("--channel", "miniprogram", "--community", "*"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    key = next((line[4:] for line in out.decode().splitlines() if line.startswith("key=")), None)
    if proc.returncode != 0 or not key:
        print(f"launch   | console: no intake API key, resident reporting is off: {out.decode()[-300:]}", flush=True)
        return {}
    return {"CONSOLE_INTAKE_API_KEY": key}


async def dead_letters(names: list[str], timeout: float = 60) -> dict[str, dict[str, int] | None]:
    """Messages resting in each service's dead-letter queues, per queue (None: could not be counted)."""

    async def one(name: str) -> dict[str, int] | None:
        # The service's own CLI knows its queues; the launcher imports no service.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            "dlq",
            "count",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            return None
        if proc.returncode != 0:
            return None
        rows = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        return {row["queue"]: int(row["dead"]) for row in rows}

    backends = [n for n in names if n != "console"]  # the console consumes no queue of its own
    return dict(zip(backends, await asyncio.gather(*(one(n) for n in backends)), strict=True))


def dead_letter_lines(found: dict[str, dict[str, int] | None]) -> list[str]:
    """The start-up summary's dead letters: how many each service holds and how to inspect them."""
    if not found:
        return []
    parts, hints = [], []
    for name, queues in found.items():
        if queues is None:
            parts.append(f"{name} ?")
            continue
        total = sum(queues.values())
        parts.append(f"{name} {total}")
        for queue, n in queues.items():
            if n:
                hints.append(
                    f"    {queue}.dlq holds {n}: python -m services.{name} dlq list --queue {queue}"
                    f"   (replay: python -m services.{name} dlq replay --queue {queue})"
                )
    lines = ["  dead letters: " + ", ".join(parts)]
    if hints:
        lines += hints + ["    why they were dead-lettered and what to do: docs/operations.md, 'Dead letters'"]
    return lines


def banner(names: list[str], dead: dict[str, dict[str, int] | None] | None = None) -> str:
    """Where to look once everything is up."""
    from services.runtime.auth import mint

    s = get_settings()
    token = mint(sub="demo-operator", role="county_operator", communities=["*"], hours=12, name="县级管理员")
    lines = ["", "五方议事厅 platform is up (Ctrl-C stops it):"]
    for n in names:
        lines.append(f"  {n:<9} http://{s.host}:{s.port(n)}/docs   (ready: /readyz, metrics: /metrics)")
    if "console" in names:
        lines.append(f"  web pages http://{s.host}:{s.port('console')}/   (staff; residents on a phone: /m)")
    lines += [
        f"  logs      {s.var_dir / 'logs'}/<service>.log     databases: {s.var_dir}/<service>.db",
        "  county-operator token (12 h), use as 'Authorization: Bearer <token>':",
        f"  {token}",
        "  more tokens: python -m services.runtime.auth mint --role party_org --community jinshan --sub me",
        *dead_letter_lines(dead or {}),
        "",
    ]
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    """Preflight, start, wait for readiness, optionally seed, then supervise until a signal."""
    problems = preflight()
    if problems:
        for p in problems:
            print(f"launch   | cannot start: {p}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SERVICES)
    unknown = [n for n in names if n not in PORTS]
    if unknown:
        print(f"launch   | unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    s = get_settings()
    sup = Supervisor(names, s.var_dir, restart=not args.no_restart)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if "console" in names:
        sup.env["console"] = await console_env()
    train = bool(args.train and "triage" in names and not (s.var_dir / "triage-model.pkl").exists())
    for n in names:
        await sup.start(n)
    try:
        await wait_ready(names)
        (s.var_dir / "run" / "ready").write_text(str(os.getpid()))
        seeding = asyncio.create_task(_train_then_seed(sup, train=train, seed_demo=args.seed and "intake" in names))
        # Dead letters left from an earlier run (or another program on this vhost) are named at every start;
        # not for the test platforms, which start often on a fresh vhost of their own.
        dead = await dead_letters(names) if s.env != "test" else None
        print(banner(names, dead), flush=True)
        await stop.wait()
        seeding.cancel()
    finally:
        (s.var_dir / "run" / "ready").unlink(missing_ok=True)
        await sup.stop()
    return 0


def main() -> None:
    """CLI entrypoint."""
    parser = argparse.ArgumentParser(
        prog="python -m services.runtime.launch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", action="store_true", help="submit a few demo reports once everything is ready")
    parser.add_argument("--train", action="store_true", help="train the triage model alongside if var/ has none")
    parser.add_argument("--only", help="comma-separated subset of services")
    parser.add_argument("--no-restart", action="store_true", help="do not restart a service that exits")
    raise SystemExit(asyncio.run(amain(parser.parse_args())))


if __name__ == "__main__":
    main()
