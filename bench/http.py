"""Intake's HTTP accept rate against a bare FastAPI endpoint, same load generator, same machine, same run."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

from bench.common import RawHttp, latency_ms
from bench.pipeline import Load, _direct
from tests.e2e.platform import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(load: Load, seconds: float) -> dict:
    """Keep every connection of `load` busy for `seconds`; accepted/s and per-request latency."""
    stop = time.monotonic() + seconds
    lat: list[float] = []

    async def worker() -> None:
        while time.monotonic() < stop:
            t = time.perf_counter()
            await load.post(*_direct("jinshan"))
            lat.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in load.conns))
    return {"accepted_per_s": round(len(lat) / (time.perf_counter() - started), 1), "latency_ms": latency_ms(lat)}


async def bare(seconds: float, conns: int) -> dict:
    """The bare endpoint in its own uvicorn process."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.bare", str(port)], cwd=ROOT)  # noqa: ASYNC220
    try:
        c = RawHttp("127.0.0.1", port)
        for _ in range(100):
            try:
                await c.request("GET", "/docs", b"", {})
                break
            except OSError:
                c.close()
                await asyncio.sleep(0.1)
        load = Load([port], "none", conns=conns)
        await drive(load, 1)  # warm-up
        out = await drive(load, seconds)
        load.close()
        return out
    finally:
        proc.terminate()
        proc.wait(10)
