"""The message graph's own ceiling: the platform's queues and fan-out, a trivial process per service, no databases.

The chain ceiling (bench/ceiling.py) passes one message through three queues. A report takes more: intake's
report.received goes to triage; triage's matter.triaged goes to the ledger, intake, meeting and feedback; the
ledger's entry.assigned goes to intake. Here every service is one process that consumes its real queues (declared
from its own `subscriptions()`, so quorum queues with their retry and dead-letter queues), republishes what the
service would emit with a confirm, then acks. The bench's tap is bound as in the pipeline run. What this carries is
the most the pipeline could carry if every handler and database cost nothing.
`python -m bench.graph node URL SERVICE QUEUES_JSON EMITS_JSON` is one service process.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import time

import aio_pika

from bench.ceiling import PAD
from bench.common import KEYS, Tap, cpu_pids, cpu_total
from services.contracts import EVENTS_EXCHANGE
from services.runtime.settings import get_settings
from services.runtime.topology import declare_queue

SERVICES = ("intake", "triage", "ledger", "meeting", "feedback")
# What a service publishes when it handles a direct report's event (the rest it only records).
EMITS = {"triage": {"report.received.v1": "matter.triaged.v1"}, "ledger": {"matter.triaged.v1": "entry.assigned.v1"}}


def _body(kind: str, i: int, t0: float) -> bytes:
    return json.dumps({"type": kind, "i": i, "t0": t0, "pad": PAD}).encode()


async def node(url: str, queues: list[str], emits: dict[str, str], prefetch: int) -> None:
    """One service: consume its queues; publish what it emits (confirmed) before acking, like the relay+consumer."""
    conn = await aio_pika.connect_robust(url)
    ch = await conn.channel()
    await ch.set_qos(prefetch_count=prefetch)
    pub = await conn.channel(publisher_confirms=True)
    ex = await pub.get_exchange(EVENTS_EXCHANGE, ensure=False)

    async def on(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        then = emits.get(msg.routing_key or "")
        if then is not None:
            body = json.loads(msg.body)
            out = aio_pika.Message(
                _body(then, body["i"], body["t0"]), delivery_mode=aio_pika.DeliveryMode.PERSISTENT, type=then
            )
            await ex.publish(out, routing_key=then, mandatory=True, timeout=30)
        await msg.ack()

    for name in queues:
        q = await ch.get_queue(name, ensure=False)
        await q.consume(on)
    print("ready", flush=True)
    await asyncio.Future()


async def _declare(url: str) -> dict[str, list[str]]:
    """Every service's real queues (from its own subscriptions); return the queue names per service."""
    settings = get_settings()
    conn = await aio_pika.connect(url)
    names: dict[str, list[str]] = {}
    try:
        ch = await conn.channel()
        for service in SERVICES:
            app = importlib.import_module(f"services.{service}.app")
            subs = app.subscriptions(settings)
            for sub in subs:
                await declare_queue(ch, sub.spec)
            names[service] = [s.spec.name for s in subs]
    finally:
        await conn.close()
    return names


async def measure(url: str, *, n: int = 2000, window: int = 256) -> dict:
    """Saturated reports/s through the platform's message graph, and the CPU each report costs there."""
    queues = await _declare(url)
    prefetch = get_settings().prefetch
    procs = {
        s: subprocess.Popen(  # noqa: ASYNC220 (the nodes run for the whole measurement; Popen returns at once)
            [sys.executable, "-m", "bench.graph", "node", url, s, json.dumps(queues[s]), json.dumps(EMITS.get(s, {}))]
            + [str(prefetch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for s in SERVICES
    }
    conn = await aio_pika.connect_robust(url)
    tap = None
    try:
        for p in procs.values():
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        tap = await Tap(url, KEYS).start()  # bound like the pipeline run's tap
        pub = await conn.channel(publisher_confirms=True)
        ex = await pub.get_exchange(EVENTS_EXCHANGE, ensure=False)
        sem = asyncio.Semaphore(window)

        async def report(i: int) -> None:  # intake's relay publishing report.received
            async with sem:
                body = _body("report.received.v1", i, time.time())
                msg = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, type="report.received.v1")
                await ex.publish(msg, routing_key="report.received.v1", mandatory=True)

        assigned = tap.events.setdefault("entry.assigned.v1", [])
        await asyncio.gather(*(report(-i - 1) for i in range(100)))  # warm-up
        await tap.wait(lambda t: len(assigned) >= 100, 60)
        pids = cpu_pids([p.pid for p in procs.values()])
        before, started, seen = cpu_total(pids), time.time(), len(assigned)
        await asyncio.gather(*(report(i) for i in range(n)))
        complete = await tap.wait(lambda t: len(assigned) - seen >= n, 180)
        cpu = cpu_total(pids) - before
        arrivals = [t for t, _ in assigned[seen:]]
        done = max(arrivals) if arrivals else time.time()
        return {
            "what": "the platform's queues and fan-out, one trivial process per service, no databases",
            "reports_per_s": round(len(arrivals) / (done - started), 1),
            "reports": n,
            "complete": complete,
            "cpu_ms_per_report": round(cpu * 1000 / max(1, len(arrivals)), 3),
            "queues": queues,
        }
    finally:
        if tap is not None:
            await tap.close()
        await conn.close()
        for p in procs.values():
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["node"]:
        url, _service, queues, emits, prefetch = sys.argv[2:7]
        asyncio.run(node(url, json.loads(queues), json.loads(emits), int(prefetch)))
    else:
        from bench.common import private_vhost

        with private_vhost("graph") as vhost:
            print(json.dumps(asyncio.run(measure(vhost)), ensure_ascii=False))
