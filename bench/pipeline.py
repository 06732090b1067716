"""The pipeline: all five services as processes, reports over HTTP (and hall.channels) to ledger entries."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import KEYS, RawHttp, Tap, latency_ms
from services.contracts import Envelope, events
from services.triage.grader import MODEL_FILE
from tests import support
from tests.e2e.platform import ROOT, Platform
from tests.integration.notify_servers import Hook, write_county

_seq = itertools.count(1)  # every report its own building entrance (so its own matter) within one platform


JINSHAN_COMPOUNDS = ("景湖花园", "秀谷名苑", "锦绣华庭")


def _place() -> tuple[int, str]:
    """A fresh (number, '<building>号楼<unit>单元'): intake parses buildings up to 999 and units up to 9."""
    i = next(_seq)
    return i, f"{(i - 1) % 999 + 1}号楼{(i - 1) // 999 % 9 + 1}单元"


def _jinshan_place() -> tuple[int, str]:
    """A fresh place in 金山社区: matters cluster by compound and building, so 2,997 distinct ones."""
    i, place = _place()
    return i, JINSHAN_COMPOUNDS[(i - 1) // 999 % 3] + place


def _direct(community: str) -> tuple[str, dict]:
    i, place = _jinshan_place()
    return "direct", {"community": community, "text": f"{place}楼道灯不亮了", "channel_message_id": f"b-{i}"}


def _red() -> tuple[str, dict]:
    i, place = _place()
    return "red", {
        "community": "xueyuan",
        "text": f"金泰和庄{place}地下室配电箱冒烟，有焦糊味，电线裸露",
        "channel_message_id": f"r-{i}",
    }


def reset_places() -> None:
    """Start numbering buildings again (call for every new platform: a fresh database)."""
    global _seq
    _seq = itertools.count(1)


class Load:
    """Posts reports to intake replicas over keep-alive connections; remembers each accept time."""

    def __init__(self, ports: list[int], token: str, conns: int = 12):
        self.conns = [RawHttp("127.0.0.1", ports[i % len(ports)]) for i in range(conns)]
        self.free: asyncio.Queue[RawHttp] = asyncio.Queue()
        for c in self.conns:
            self.free.put_nowait(c)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.accepted: dict[str, tuple[str, float]] = {}  # report_id -> (kind, accept time)
        self.texts: dict[str, str] = {}  # report_id -> text of a red report (its page quotes the place in it)
        self.errors = 0

    async def post(self, kind: str, body: dict) -> None:
        """POST one report, retrying like a client on a transient failure."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        for _ in range(20):
            c = await self.free.get()
            try:
                status, data = await c.request("POST", "/v1/reports", payload, self.headers)
            except (OSError, asyncio.IncompleteReadError):
                status, data = 0, b""
            finally:
                self.free.put_nowait(c)
            if status in (200, 201):
                rid = json.loads(data)["report_id"]
                self.accepted[rid] = (kind, time.time())
                if kind == "red":
                    self.texts[rid] = body["text"]
                return
            self.errors += 1
            await asyncio.sleep(0.2)
        raise RuntimeError(f"report never accepted: {status} {data[:200]!r}")

    def close(self) -> None:
        """Close every connection."""
        for c in self.conns:
            c.close()


async def publish_channel_messages(amqp_url: str, n: int) -> None:
    """The share arriving from a chat adapter: channel.message.v1 on hall.channels."""
    envelopes = []
    for _ in range(n):
        i, place = _jinshan_place()
        envelopes.append(
            Envelope.new(
                type="channel.message.v1",
                source="/adapters/bench",
                community="jinshan",
                data=events.ChannelMessage(
                    channel="wechat_group",
                    channel_message_id=f"wx-{i}",
                    text=f"@物业 {place}楼道灯又不亮了",
                    sender=events.Sender(name="李四"),
                ),
            )
        )
    await support.publish_channel_messages(amqp_url, envelopes)


def _index(tap: Tap) -> tuple[dict, dict, dict]:
    """report -> matter, matter -> first entry.assigned time, matter -> first session.scheduled time."""
    report_matter = {}
    for _, body in tap.events["matter.triaged.v1"]:
        for rid in body["data"]["report_ids"]:
            report_matter.setdefault(rid, body["data"]["matter_id"])
    assigned: dict[str, float] = {}
    for t, body in tap.events["entry.assigned.v1"]:
        assigned.setdefault(body["data"]["matter_id"], t)
    scheduled: dict[str, float] = {}
    for t, body in tap.events["session.scheduled.v1"]:
        for mid in body["data"]["agenda"]:
            scheduled.setdefault(mid, t)
    return report_matter, assigned, scheduled


class Pipeline:
    """One platform (optionally with extra replicas of a service) plus the tap and the load generator."""

    def __init__(
        self,
        tmp: Path,
        amqp_url: str,
        *,
        env: dict | None = None,
        replicas: dict[str, int] | None = None,
        model: Path | None = None,
    ):
        # `model`: a trained triage model, put where `make run` puts it, so triage grades as it does in service.
        self.tmp, self.url, self.env, self.replicas, self.model = tmp, amqp_url, env or {}, replicas or {}, model
        self.extra: list[tuple[str, int, subprocess.Popen]] = []
        # Red alerts page one person on call in 学苑社区 through a real webhook server (docs/emergency.md).
        self.pager = Hook()
        tmp.mkdir(parents=True, exist_ok=True)
        if "HALL_DIRECTORY" not in self.env:
            county = write_county(
                tmp,
                notices={"xueyuan": {"channel": "wecom", "webhook_url": self.pager.url}},
                on_call={"xueyuan": {"shifts": [{"lead": "property_company", "people": ["罗小兵"]}]}},
            )
            self.env = {**self.env, "HALL_DIRECTORY": str(county)}

    async def __aenter__(self) -> Pipeline:
        reset_places()
        platform = Platform(self.tmp, self.url, extra_env=self.env)
        if self.model is not None:
            platform.var.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.model, platform.var / MODEL_FILE)
        self.p = await asyncio.to_thread(platform.start, 300)  # a busy shared machine starts five processes slowly
        try:
            for service, count in self.replicas.items():
                for k in range(1, count):
                    self.extra.append(self._replica(service, k))
            self.intake_ports = [self.p.ports["intake"]] + [port for s, port, _ in self.extra if s == "intake"]
            for _, port, _ in self.extra:
                await _wait_ready(port)
            self.tap = await Tap(self.url, KEYS).start()
        except BaseException:
            self._stop_replicas()
            await asyncio.to_thread(self.p.stop)
            raise
        self.load = Load(self.intake_ports, self.p.token())
        return self

    def _replica(self, service: str, k: int) -> tuple[str, int, subprocess.Popen]:
        port = self.p.ports[service] + 50 + k
        env = {**self.p.env, f"{service.upper()}_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        log = open(self.p.var / f"{service}-replica{k}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return service, port, proc

    async def __aexit__(self, *exc) -> None:
        self.pager.close()
        self.load.close()
        await self.tap.close()
        self._stop_replicas()
        await asyncio.to_thread(self.p.stop)

    def _stop_replicas(self) -> None:
        for _, _, proc in self.extra:
            proc.send_signal(signal.SIGTERM)
        for _, _, proc in self.extra:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def saturate(self, n: int, *, communities: list[str] | None = None, channel_share: float = 0.1) -> dict:
        """Post n direct reports as fast as intake accepts them (a share via hall.channels); rate to ledger."""
        communities = communities or ["jinshan"]
        n_channel = int(n * channel_share)
        before = len(self.tap.events["entry.assigned.v1"])
        started = time.time()
        bodies = [_direct(communities[i % len(communities)]) for i in range(n - n_channel)]
        await asyncio.gather(*(self.load.post(k, b) for k, b in bodies), publish_channel_messages(self.url, n_channel))
        accepted_at = time.time()
        ok = await self.tap.wait(lambda t: len(t.events["entry.assigned.v1"]) - before >= n, timeout=240)
        arrivals = [t for t, _ in self.tap.events["entry.assigned.v1"][before:]]
        done = max(arrivals) if arrivals else time.time()
        return {
            "reports": n,
            "via_channels": n_channel,
            "ledger_entries_seen": len(arrivals),
            "complete": ok,
            "intake_accept_per_s": round((n - n_channel) / (accepted_at - started), 1),
            "reports_per_s": round(len(arrivals) / (done - started), 1),
        }

    async def paced(self, rate: float, seconds: float, *, red_every: int = 10) -> dict:
        """Post at a fixed rate (every red_every-th report red); latency accept -> ledger entry / emergency session."""
        count = max(10, int(rate * seconds))
        t0 = time.monotonic()
        tasks, ids_before = [], set(self.load.accepted)
        for i in range(count):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, body = _red() if i % red_every == red_every - 1 else _direct("jinshan")
            tasks.append(asyncio.create_task(self.load.post(kind, body)))
        await asyncio.gather(*tasks)
        mine = {rid: v for rid, v in self.load.accepted.items() if rid not in ids_before}
        n_direct = sum(1 for k, _ in mine.values() if k == "direct")
        n_red = len(mine) - n_direct

        def complete(tap: Tap) -> bool:
            rm, assigned, scheduled = _index(tap)
            done_d = sum(1 for r, (k, _) in mine.items() if k == "direct" and rm.get(r) in assigned)
            done_r = sum(1 for r, (k, _) in mine.items() if k == "red" and rm.get(r) in scheduled)
            return done_d >= n_direct and done_r >= n_red

        await self.tap.wait(complete, timeout=120)
        reds = {r: t for r, (k, t) in mine.items() if k == "red"}
        await self.tap.wait(lambda _t: len(self._pages(reds)) >= len(reds), timeout=30)
        rm, assigned, scheduled = _index(self.tap)
        direct = [assigned[rm[r]] - t for r, (k, t) in mine.items() if k == "direct" and rm.get(r) in assigned]
        red = [scheduled[rm[r]] - t for r, t in reds.items() if rm.get(r) in scheduled]
        red_entry = [assigned[rm[r]] - t for r, t in reds.items() if rm.get(r) in assigned]
        paged = self._pages(reds)
        return {
            "rate_per_s": round(rate, 1),
            "seconds": seconds,
            "latency_ms_accept_to_ledger_entry": latency_ms(direct),
            "red_to_emergency_session_ms": latency_ms(red),
            "red_to_entry_with_lead_unit_ms": latency_ms(red_entry),
            "red_to_first_page_delivered_ms": latency_ms([paged[r] - t for r, t in reds.items() if r in paged]),
            "missing": (n_direct - len(direct)) + (n_red - len(red)),
            "red_pages_missing": len(reds) - len(paged),
        }

    def _pages(self, reds: dict[str, float]) -> dict[str, float]:
        """report -> arrival of its first page at the webhook: a page quotes the report's unique place."""
        places = {
            r: m.group(0) for r in reds if (m := re.search(r"金泰和庄\d+号楼\d+单元", self.load.texts.get(r, "")))
        }
        out: dict[str, float] = {}
        for at, msg in zip(self.pager.times, self.pager.received, strict=False):
            content = msg.get("text", {}).get("content", "")
            for r, place in places.items():
                if r not in out and place in content:
                    out[r] = at
        return out

    async def drained(self, timeout: float = 180) -> float:
        """Wait until no outbox row of any service is unsent for 2 s running; return the seconds waited."""
        t0, quiet = time.monotonic(), 0
        while time.monotonic() - t0 < timeout and quiet < 2:
            unsent = 0
            for s in ("intake", "triage", "ledger", "meeting", "feedback"):
                unsent += (await _rows(self.db_url(s), "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"))[0][0]
            quiet = quiet + 1 if unsent == 0 else 0
            await asyncio.sleep(1)
        return round(time.monotonic() - t0, 1)

    async def check_exactly_once(self) -> dict:
        """Every accepted report in exactly one matter, every matter in exactly one ledger entry (read the DBs)."""
        waited = await self.drained()
        triage = await _rows(self.db_url("triage"), "SELECT report_id, COUNT(*) FROM matter_report GROUP BY report_id")
        per_report = dict(triage)
        accepted = set(self.load.accepted)
        lost = [r for r in accepted if r not in per_report]
        doubled = [r for r, c in per_report.items() if c > 1]
        matters = (await _rows(self.db_url("triage"), "SELECT COUNT(*) FROM matter WHERE route = 'direct'"))[0][0]
        entries = await _rows(self.db_url("ledger"), "SELECT matter_id, COUNT(*) FROM entry GROUP BY matter_id")
        outbox_unsent = 0
        for s in ("intake", "triage", "ledger", "meeting", "feedback"):
            outbox_unsent += (await _rows(self.db_url(s), "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"))[0][0]
        return {
            "reports_lost": len(lost),
            "reports_in_two_matters": len(doubled),
            "drain_wait_s": waited,
            "direct_matters": matters,
            "ledger_entries": len(entries),
            "matters_with_two_entries": sum(1 for _, c in entries if c > 1),
            "outbox_unsent": outbox_unsent,
        }

    def db_url(self, service: str) -> str:
        """The database URL a service runs on."""
        return self.env.get(f"{service.upper()}_DATABASE_URL") or self.p.settings.database_url(service)


async def _rows(url: str, sql: str) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def _wait_ready(port: int, timeout: float = 90) -> None:
    c = RawHttp("127.0.0.1", port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = await c.request("GET", "/readyz", b"", {})
            if status == 200:
                c.close()
                return
        except OSError:
            c.close()
        await asyncio.sleep(0.3)
    raise RuntimeError(f"replica on port {port} not ready")


def pg_env(urls: dict[str, str]) -> dict[str, str]:
    """<SERVICE>_DATABASE_URL for every service."""
    return {f"{s.upper()}_DATABASE_URL": u for s, u in urls.items()}
