"""Shared pieces of the benchmark: a private vhost, percentiles, a tap queue and a small HTTP load generator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time

import aio_pika

from services.contracts import EVENTS_EXCHANGE
from tests import support


def private_vhost(tag: str) -> contextlib.AbstractContextManager[str]:
    """A fresh vhost for one measurement, deleted afterwards; yields its AMQP URL."""
    return support.private_vhost(f"hall-bench-{tag}")


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of values, in the values' unit; None if empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def latency_ms(values_s: list[float]) -> dict:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    out = {f"p{p}": pct(values_s, p) for p in (50, 95, 99)}
    out["max"] = max(values_s) if values_s else None
    out = {k: (round(v * 1000, 1) if v is not None else None) for k, v in out.items()}
    out["n"] = len(values_s)
    return out


# The events the benchmark's tap records (its arrival times measure the pipeline).
KEYS = ("matter.triaged.v1", "entry.assigned.v1", "session.scheduled.v1")


class Tap:
    """An exclusive queue bound to hall.events: records when each event of the given types arrives."""

    def __init__(self, amqp_url: str, keys: tuple[str, ...]):
        self.url, self.keys = amqp_url, keys
        self.events: dict[str, list[tuple[float, dict]]] = {k: [] for k in keys}
        self.changed = asyncio.Event()
        self._conn = None

    async def start(self) -> Tap:
        """Connect, declare the exchange (idempotent) and the tap queue, start consuming."""
        self._conn = await aio_pika.connect_robust(self.url)
        ch = await self._conn.channel()
        await ch.set_qos(prefetch_count=1000)
        ex = await ch.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        for k in self.keys:
            await q.bind(ex, routing_key=k)
        await q.consume(self._on, no_ack=True)
        return self

    async def _on(self, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        body = json.loads(msg.body)
        self.events.setdefault(msg.routing_key or body["type"], []).append((now, body))
        self.changed.set()

    async def wait(self, predicate, timeout: float) -> bool:
        """Wait until predicate(self) is true or the timeout passes."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))
        return True

    async def close(self) -> None:
        """Close the connection (the exclusive queue goes with it)."""
        if self._conn is not None:
            await self._conn.close()


class RawHttp:
    """A minimal keep-alive HTTP/1.1 client connection (much lighter than httpx, so the load generator is cheap)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send one request, return (status, body); reconnects when the server closed the connection."""
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in headers.items()]
            try:
                self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                status = int(status_line.split()[1])
                length, close = 0, False
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value.strip())
                    elif name.lower() == "connection" and value.strip().lower() == "close":
                        close = True
                data = await self.reader.readexactly(length) if length else b""
                if close:
                    self.close()
                return status, data
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop the connection."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_pids(children: list[int]) -> list[int]:
    """The given processes, this one and RabbitMQ's VM: every process a ceiling's messages pass through."""
    return [*children, os.getpid(), *[pid for pid in [broker_pid()] if pid]]


def cpu_total(pids: list[int]) -> float:
    """CPU seconds the processes have used so far, together."""
    return sum(cpu_seconds(pid) for pid in pids)


def broker_pid() -> int | None:
    """The pid of RabbitMQ's Erlang VM, to account its CPU time too."""
    out = subprocess.run(["pgrep", "-f", "beam.smp.*rabbit"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every PostgreSQL server process (backends included) on this machine."""
    total = 0.0
    for pid in subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split():
        total += cpu_seconds(int(pid))
    return total
