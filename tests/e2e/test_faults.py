"""Nothing lost, nothing doubled: a stream of reports while services are SIGKILLed or the broker restarts."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest

from services.runtime import dlq
from tests.e2e.platform import eventually
from tests.support import rabbitmqctl

pytestmark = pytest.mark.e2e

QUEUES = (
    "intake.channels",
    "intake.status",
    "triage.reports",
    "triage.matters",
    "meeting.matters",
    "ledger.events",
    "feedback.events",
)


def _stream(p, n: int, *, community: str = "jinshan", on: dict | None = None) -> list[str]:
    """Post n distinct direct reports (one per building); run on[i]() just before report i."""
    ids = []
    for i in range(1, n + 1):
        if on and i in on:
            on[i]()
        body = {"community": community, "text": f"景湖花园{i}号楼楼道灯不亮了", "channel_message_id": f"stream-{i}"}
        for attempt in range(50):  # intake itself may be the one just killed: retry like a real client
            try:
                r = p.post("intake", "/v1/reports", body)
                if r.status_code == 201:
                    ids.append(r.json()["report_id"])
                    break
            except Exception:
                pass
            time.sleep(0.2 * (attempt + 1))
        else:
            raise AssertionError(f"report {i} was never accepted")
    return ids


def _reconcile(p, report_ids: list[str], amqp_url: str) -> None:
    """Every accepted report in exactly one matter, every matter in exactly one ledger entry, nothing stuck."""
    n = len(set(report_ids))
    assert n == len(report_ids), "intake created a duplicate report for a repeated channel message id"

    def all_linked():
        reports = p.get("intake", "/v1/reports", params={"limit": 500}).json()["items"]
        return len(reports) == n and all(r["matter_id"] for r in reports) and reports

    reports = eventually(all_linked, timeout=180, what=f"all {n} reports linked to matters")
    matters = p.get("triage", "/v1/matters", params={"limit": 500}).json()["items"]
    in_matters = [rid for m in matters for rid in p.get("triage", f"/v1/matters/{m['id']}").json()["report_ids"]]
    assert sorted(in_matters) == sorted(report_ids), "each report in exactly one matter"
    assert {r["matter_id"] for r in reports} == {m["id"] for m in matters}

    def all_entries():
        page = p.get("ledger", "/v1/entries", params={"limit": 500}).json()
        return page["total"] >= len(matters) and page

    page = eventually(all_entries, timeout=180, what="a ledger entry for every matter")
    entry_matters = [e["matter_id"] for e in page["items"]]
    assert len(entry_matters) == len(set(entry_matters)) == len(matters), "one ledger entry per matter"
    assert set(entry_matters) == {m["id"] for m in matters}
    for q in QUEUES:
        assert (dlq.run_depth(amqp_url, q)) == 0, f"{q}.dlq is not empty"


def test_sigkill_mid_stream_loses_and_duplicates_nothing(platform, vhost):
    """SIGKILL triage, then ledger, then intake in the middle of 200 reports; the launcher restarts each."""
    p = platform
    killed: list[tuple[str, int]] = []

    def kill(service):
        def _do():
            killed.append((service, p.kill(service, signal.SIGKILL)))

        return _do

    ids = _stream(p, 200, on={50: kill("triage"), 100: kill("ledger"), 150: kill("intake")})
    for service, old in killed:
        p.wait_restarted(service, old)
    _reconcile(p, ids, vhost)


def test_broker_restart_mid_stream_loses_nothing(platform, vhost):
    """RabbitMQ's application stopped and started while 120 reports stream in."""
    p = platform
    restarted = threading.Event()

    def bounce():
        def _run():
            try:
                rabbitmqctl("stop_app")
                time.sleep(3)
            finally:
                rabbitmqctl("start_app")
                subprocess.run(["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120)
                restarted.set()

        threading.Thread(target=_run, daemon=True).start()

    ids = _stream(p, 120, on={40: bounce})
    assert restarted.wait(120), "broker did not come back"
    _reconcile(p, ids, vhost)
