"""A steady stream of reports into a running platform, and the checks after a fault: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.platform import SERVICES, Platform, eventually
from tests.e2e.test_faults import _reconcile

RESULTS: list[str] = []  # "CLUSTER <case> recovery_s=<s>" lines, printed at the end of the session too


class Stream:
    """Posts distinct reports one after another (a client that retries like a real one), numbered on."""

    def __init__(self, p: Platform):
        self.p, self.ids, self.next = p, [], 1

    def post(self, n: int, on: dict[int, Callable[[], None]] | None = None) -> None:
        """Post n more reports; run on[k]() before the k-th of them."""
        for k in range(1, n + 1):
            if on and k in on:
                on[k]()
            i, self.next = self.next, self.next + 1
            body = {"community": "jinshan", "text": f"景湖花园{i}号楼楼道灯不亮了", "channel_message_id": f"cl-{i}"}
            for attempt in range(60):
                try:
                    r = self.p.post("intake", "/v1/reports", body)
                    if r.status_code == 201:
                        self.ids.append(r.json()["report_id"])
                        break
                except Exception:  # intake's database or broker may be failing over: retry
                    pass
                time.sleep(min(0.2 * (attempt + 1), 2))
            else:
                raise AssertionError(f"report {i} was never accepted")


def in_background(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Run fn in a thread (a fault that takes seconds while the stream goes on); errors are collected."""
    errors: list[BaseException] = []

    def run():
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, errors


def unsent_outbox(db_urls: dict[str, str]) -> dict[str, int]:
    """Outbox rows not yet sent, per service."""

    async def count() -> dict[str, int]:
        out = {}
        for s, url in db_urls.items():
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    out[s] = (await conn.execute(text("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"))).scalar()
            finally:
                await engine.dispose()
        return out

    return asyncio.run(count())


def settle(
    case: str,
    p: Platform,
    stream: Stream,
    dlq_urls: list[str],
    fault_at: float,
    db_urls: dict[str, str] | None = None,
    queues_idle: Callable[[], bool] | None = None,
) -> float:
    """Reconcile (every report in one matter, every matter one entry, DLQs empty), outboxes sent, queues idle."""
    _reconcile(p, stream.ids, dlq_urls)
    recovery = time.monotonic() - fault_at
    urls = db_urls or {s: p.settings.database_url(s) for s in SERVICES}
    eventually(lambda: not any(unsent_outbox(urls).values()), timeout=60, what="every outbox row sent")
    if queues_idle is not None:
        eventually(queues_idle, timeout=60, what="every queue drained and acked")
    line = f"CLUSTER {case} reports={len(stream.ids)} recovery_s={recovery:.1f}"
    RESULTS.append(line)
    print(line, file=sys.stderr)
    return recovery
