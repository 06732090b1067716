"""The ceiling: raw aio-pika confirmed publish -> consume through as many quorum queues as the pipeline has hops.

The publisher plays intake's relay, each hop process plays a service (consume, republish with a confirm to the
next queue, then ack), the sink plays the tap. No databases. `python -m bench.ceiling hop URL IN OUT` is one hop.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import aio_pika

from bench.common import cpu_pids, cpu_total, latency_ms

PAD = "x" * 1000  # about the size of a hall envelope


def _queue_args() -> dict:
    return {"x-queue-type": "quorum", "x-overflow": "reject-publish"}


async def hop(url: str, src: str, dst: str, prefetch: int = 64) -> None:
    """Consume src; republish each message to dst with a confirm, then ack (like a service's handler+relay)."""
    conn = await aio_pika.connect_robust(url)
    ch = await conn.channel()
    await ch.set_qos(prefetch_count=prefetch)
    pub = await conn.channel(publisher_confirms=True)
    q = await ch.declare_queue(src, durable=True, arguments=_queue_args())
    await pub.declare_queue(dst, durable=True, arguments=_queue_args())

    async def on(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        await pub.default_exchange.publish(
            aio_pika.Message(msg.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=dst, timeout=30
        )
        await msg.ack()

    await q.consume(on)
    print("ready", flush=True)
    await asyncio.Future()


class _Sink:
    def __init__(self):
        self.arrivals: dict[int, tuple[float, float]] = {}
        self.changed = asyncio.Event()

    async def on(self, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        body = json.loads(msg.body)
        self.arrivals[body["i"]] = (body["t0"], time.time())
        await msg.ack()
        self.changed.set()

    async def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < n and time.monotonic() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.5)
            except TimeoutError:
                pass


async def _publish(ex, queue: str, i: int) -> None:
    body = json.dumps({"i": i, "t0": time.time(), "pad": PAD}).encode()
    await ex.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=queue)


async def measure(url: str, *, hops: int = 3, n: int = 4000, window: int = 256, paced_s: float = 6.0) -> dict:
    """Saturated msgs/s through `hops` queues, then latency percentiles at half that rate."""
    queues = [f"ceiling.q{i}" for i in range(1, hops + 1)]
    conn = await aio_pika.connect_robust(url)
    ch = await conn.channel()
    for q in queues:
        await ch.declare_queue(q, durable=True, arguments=_queue_args())
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 (the hops run for the whole measurement; Popen returns at once)
            [sys.executable, "-m", "bench.ceiling", "hop", url, queues[i], queues[i + 1]],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(hops - 1)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        sink = _Sink()
        sink_ch = await conn.channel()
        await sink_ch.set_qos(prefetch_count=256)
        sink_q = await sink_ch.declare_queue(queues[-1], durable=True, arguments=_queue_args())
        await sink_q.consume(sink.on)
        pub = await conn.channel(publisher_confirms=True)
        ex = pub.default_exchange

        # Warm-up, then saturation: keep `window` confirms outstanding.
        await asyncio.gather(*(_publish(ex, queues[0], -i - 1) for i in range(200)))
        await sink.wait_for(200, 60)
        sink.arrivals.clear()
        sem = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            async with sem:
                await _publish(ex, queues[0], i)

        # CPU of every process the messages pass through (publisher and sink are this one), like the pipeline's.
        pids = cpu_pids([p.pid for p in procs])
        cpu0, started = cpu_total(pids), time.time()
        await asyncio.gather(*(one(i) for i in range(n)))
        await sink.wait_for(n, 120)
        cpu, wall = cpu_total(pids) - cpu0, time.time() - started
        done = max(t for _, t in sink.arrivals.values())
        arrived = len(sink.arrivals)
        rate = arrived / (done - started)
        cpu_ms_per_message = cpu * 1000 / max(1, arrived)

        # Half the saturated rate, paced.
        sink.arrivals.clear()
        half = rate / 2
        count = int(half * paced_s)
        t_start = time.monotonic()
        tasks = []
        for i in range(count):
            delay = t_start + i / half - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_publish(ex, queues[0], n + i)))
        await asyncio.gather(*tasks)
        await sink.wait_for(count, 60)
        lat = [t1 - t0 for t0, t1 in sink.arrivals.values()]
        await conn.close()
        return {
            "hops": hops,
            "queues": "quorum, persistent messages, publisher confirms on every hop",
            "msgs_per_s": round(rate, 1),
            "saturation_messages": n,
            "cpu_ms_per_message": round(cpu_ms_per_message, 3),
            "cpu_cores_while_saturated": round(cpu / wall, 2),
            "half_rate_msgs_per_s": round(half, 1),
            "latency_ms_at_half_rate": latency_ms(lat),
        }
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["hop"]:
        asyncio.run(hop(*sys.argv[2:5]))
