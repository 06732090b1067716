"""No phone number, name or room number escapes intake: events, logs, public pages, Open311, disclosures.

Staff free text is probed too: the notes a property company writes while handling a matter (the probe's
"已为王小明（电话…，身份证…）疏通下水道", in every usual way of writing a number), a reporter's unsatisfied
comment, and the reopen that follows. Public surfaces must show no name, phone or household reference at all,
masked or not (住户刘**, 139****5714, hh_…).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import unicodedata
import uuid
import zipfile

import aio_pika
import pytest

from services.contracts import EVENTS_EXCHANGE
from tests.e2e.platform import SERVICES, eventually
from tests.support import rabbitmqctl, vhost_of, wait_for, wait_for_async

pytestmark = pytest.mark.e2e

# Distinctive inputs, so a hit can only be a leak.
PEOPLE = [
    ("欧阳娜娜", "13955556661", "1502"),
    ("司马光明", "13955556662", "2703"),
    ("诸葛亮亮", "13955556663", "3604"),
    ("上官婉儿", "13955556664", "1208"),
    ("慕容复兴", "13955556665", "2209"),
]
# Not inside a longer run of letters and digits: a sha256 in hex can hold 11 digits that look like a phone.
PHONE_RE = re.compile(rb"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
# The people staff write about, and the forms the probe found slipping through the scrubber.
STAFF_NAME, STAFF_PHONE, STAFF_ID = "皇甫晓燕", "13955556671", "360827199003151234"
STAFF_NOTES = {
    "start": f"先帮{STAFF_NAME}阿姨联系了+86 139 5555 6671，再去看现场",
    "progress": f"给{STAFF_NAME}（身份证 360827 19900315 1234，座机0794-8123456）送了临时照明，3栋2单元1502",
    "complete": f"已为{STAFF_NAME}（电话１３９５５５５６６７１，身份证{STAFF_ID}）更换了灯具，00861395555.6671",
}
COMMENT = f"还是不亮，我是{STAFF_NAME}，电话139-5555-6671"
STAFF_SECRETS = (STAFF_NAME, STAFF_PHONE, STAFF_ID, "8123456", "1502")
# Masked leftovers and household references: none may reach a public surface.
MASKED_RE = re.compile(r"\d{3}\*{4}\d{4}|[\u4e00-\u9fff]\*{1,3}|hh_[0-9a-f]{6}")


class Tap:
    """Every domain event on hall.events in this test's vhost, as raw bytes."""

    def __init__(self, url: str):
        self.url, self.bodies = url, []

    async def start(self):
        self.conn = await aio_pika.connect(self.url)
        ch = await self.conn.channel()
        ex = await ch.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue("", exclusive=True)
        await q.bind(ex, routing_key="#")
        await q.consume(self._on, no_ack=True)
        self.exchange = ex

    async def drain(self) -> None:
        """Until every event published before now has reached the tap: a marker sent now queues behind them."""
        marker = f"tap-marker-{uuid.uuid4().hex}".encode()
        await self.exchange.publish(aio_pika.Message(marker), routing_key="test.tap.marker")
        await wait_for_async(lambda: marker in self.bodies, what="the tap's marker")
        self.bodies.remove(marker)

    async def _on(self, msg):
        self.bodies.append(msg.body)

    async def stop(self):
        await self.conn.close()


def _quiet(p, vhost: str) -> bool:
    """Nothing in flight: every service's outbox sent, every queue of the vhost empty (unacknowledged included)."""

    def outboxes_sent() -> bool:
        return all(_pending(p.get(s, "/metrics").text) == 0 for s in SERVICES)

    if not outboxes_sent():
        return False
    listing = rabbitmqctl("list_queues", "--no-table-headers", "-q", "-p", vhost_of(vhost), "name", "messages")
    for name, count in (line.rsplit(None, 1) for line in listing.splitlines() if line.strip()):
        if not name.endswith(".dlq") and int(count):  # dead letters stay; retries are still in flight
            return False
    return outboxes_sent()  # and nothing handled meanwhile emitted more


def _pending(metrics_text: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        s.value
        for m in text_string_to_metric_families(metrics_text)
        if m.name == "hall_outbox_pending"
        for s in m.samples
    )


def _leaks(blob: bytes, where: str, *, public: bool = False) -> list[str]:
    found = []
    text = blob.decode("utf-8", errors="ignore")
    for name, phone, room in PEOPLE:
        for secret in (name, phone, f"{room}室", f"栋{room}", f"-{room}"):
            if secret in text:
                found.append(f"{where}: {secret!r}")
    found += [f"{where}: phone {m.group().decode()}" for m in PHONE_RE.finditer(blob)]
    # Numbers written with spaces, dots, dashes, full-width digits or invisible characters count as written.
    flat = re.sub(r"[\s\-.·\u200b]", "", unicodedata.normalize("NFKC", text))
    found += [f"{where}: staff note {s!r}" for s in STAFF_SECRETS if s in text or s in flat]
    if public:
        found += [f"{where}: masked {m.group()!r}" for m in MASKED_RE.finditer(text)]
    return found


async def test_a_realistic_stream_leaks_no_personal_data(platform, vhost):
    p = platform
    tap = Tap(vhost)
    await tap.start()
    try:
        await asyncio.to_thread(_feed, p)
        await asyncio.to_thread(_staff_handle_and_residents_answer, p)
        # Until nothing is in flight (a loaded machine delays the last events), then every event published is
        # on the tap: checked, not slept for.
        await asyncio.to_thread(wait_for, lambda: _quiet(p, vhost), 60, interval=2, what="the platform quiet")
        await tap.drain()
    finally:
        await tap.stop()
    leaks: list[str] = []
    assert tap.bodies, "the tap saw no events"
    kinds = set()
    for body in tap.bodies:
        kind = json.loads(body).get("type", "?")
        kinds.add(kind)
        leaks += _leaks(body, f"event {kind}")
    assert {"entry.progressed.v1", "entry.completed.v1", "matter.reopened.v1"} <= kinds, kinds
    for log in (p.var / "logs").glob("*.log"):
        leaks += _leaks(log.read_bytes(), f"log {log.name}")
    leaks += await asyncio.to_thread(_public_pages, p)
    assert not leaks, "personal data escaped:\n" + "\n".join(sorted(set(leaks))[:40])


def _feed(p) -> None:
    codes = []
    for i, (name, phone, room) in enumerate(PEOPLE[:3], 1):
        r = p.post(
            "intake",
            "/v1/reports",
            {
                "community": "jinshan",
                "channel": "miniprogram",
                "name": name,
                "phone": phone,
                "room": room,
                "text": f"我是{name}，住景湖花园{i}栋{room}，电话{phone}，楼道灯坏了好几天，晚上摔了一跤",
            },
        )
        assert r.status_code == 201, r.text
        codes.append(r.json()["tracking_code"])
    name, phone, room = PEOPLE[3]
    r = p.post(
        "intake",
        "/v1/hotline-orders",
        {
            "community": "jinshan",
            "order_no": "GD-20261130-0001",
            "called_at": dt.datetime.now(dt.UTC).isoformat(),
            "content": f"市民{name}（{phone}）来电反映：景湖花园4栋{room}室门口下水道堵塞，污水外溢",
            "contact_name": name,
            "contact_phone": phone,
            "address": f"景湖花园4栋{room}室",
        },
    )
    assert r.status_code == 201, r.text
    name, phone, room = PEOPLE[4]
    csv = (
        "日期,走访人,小区,楼栋,单元,房号,居民姓名,联系电话,反映问题,类型\n"
        f"2026-11-28,徐志强,景湖花园,5,2,{room},{name},{phone},{name}反映5栋{room}楼上漏水到家里,问题\n"
    )
    r = p.http.post(
        p.url("intake", "/v1/imports/door-visits"),
        headers=p.headers("party_org", ("jinshan",)),
        data={"community": "jinshan"},
        files={"file": ("visits.csv", csv.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    key = p.post("intake", "/v1/apikeys", {"name": "gateway", "channels": ["open311"], "communities": ["jinshan"]})
    assert key.status_code == 201, key.text
    name, phone, room = PEOPLE[0]
    r = p.http.post(
        p.url("intake", "/open311/v2/requests.json"),
        data={
            "api_key": key.json()["key"],
            "jurisdiction_id": "jinshan",
            "service_code": "lighting",
            "description": f"{name}说景湖花园6栋{room}门口路灯不亮，联系{phone}",
            "first_name": name,
            "phone": phone,
            "address_string": f"景湖花园6栋{room}",
        },
    )
    assert r.status_code in (200, 201), r.text
    p.codes = codes
    eventually(lambda: p.get("ledger", "/v1/entries").json()["total"] >= 4, timeout=90, what="ledger entries")


def _staff_handle_and_residents_answer(p) -> None:
    """Staff handle the lamp matter with notes full of personal data; the reporter is unsatisfied; it is redone."""
    prop = p.headers("property_company", ("jinshan",))
    org = p.headers("party_org", ("jinshan",))
    report = p.get("intake", "/v1/reports", params={"community": "jinshan", "limit": 500}).json()["items"]
    mine = next(r for r in report if r["tracking_code"] == p.codes[0])
    matter_id = eventually(lambda: p.get("intake", f"/v1/reports/{mine['id']}").json()["matter_id"], what="matter")

    def entry():
        items = p.get("ledger", "/v1/entries", params={"community": "jinshan", "limit": 500}).json()["items"]
        return next((e for e in items if e["matter_id"] == matter_id and e["state"] == "assigned"), None)

    def handle(round_: int) -> None:
        ent = eventually(entry, timeout=90, what=f"round-{round_} entry assigned")
        for action in ("start", "progress", "complete"):
            url = p.url("ledger", f"/v1/entries/{ent['id']}/actions/{action}")
            r = p.http.post(url, json={"note": STAFF_NOTES[action]}, headers=prop)
            assert r.status_code == 200, r.text

    def form(round_: int) -> None:
        def revisit():
            rows = p.get("feedback", "/v1/revisits").json()["items"]
            return next((v for v in rows if v["matter_id"] == matter_id and v["round"] == round_), None)

        eventually(revisit, what=f"round-{round_} revisit")
        houses = [f"景湖花园1-1-{n}" for n in (1501, 1502)]
        r = p.post("feedback", f"/v1/matters/{matter_id}/questionnaire-links", {"households": houses}, headers=org)
        assert r.status_code == 201, r.text
        p.forms.append(r.json()["links"][0]["path"])

    p.forms, p.matter_id = [], matter_id
    handle(1)
    form(1)
    r = p.post(
        "feedback",
        f"/v1/matters/{matter_id}/evaluations",
        {
            "household": "景湖花园1-1-1502",
            "rating": "unsatisfied",
            "solved": "unsolved",
            "is_reporter": True,
            "comment": COMMENT,
            "method": "home_visit",
            "evidence": {"photos": ["https://img.example.cn/visit/1502.jpg"]},
        },
        headers=org,
    )
    assert r.status_code == 201 and r.json()["round_outcome"] == "reopen", r.text
    handle(2)
    form(2)


def _public_pages(p) -> list[str]:
    leaks = []
    for code in p.codes:
        leaks += _leaks(p.http.get(p.url("intake", f"/v1/track/{code}")).content, "track", public=True)
    for path in p.forms:
        page = p.http.get(p.url("feedback", path))
        assert page.status_code == 200, page.text
        leaks += _leaks(page.content, "questionnaire", public=True)
    for fmt in ("json", "xml"):
        listed = p.http.get(p.url("intake", f"/open311/v2/requests.{fmt}"), params={"jurisdiction_id": "jinshan"})
        leaks += _leaks(listed.content, f"open311 {fmt}", public=True)
    for where, content in disclosure_contents(p, "jinshan"):
        leaks += _leaks(content, where, public=True)
    return leaks


def disclosure_contents(p, community: str) -> list[tuple[str, bytes]]:
    """This month's disclosure, published by staff, in every format (the xlsx as its inner files)."""
    month = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    staff = p.headers("party_org", (community,))
    r = p.http.post(p.url("ledger", "/v1/disclosures"), json={"community": community, "month": month}, headers=staff)
    assert r.status_code == 201, r.text
    out: list[tuple[str, bytes]] = []
    for suffix in ("", ".csv", ".txt", ".json"):
        page = p.http.get(p.url("ledger", f"/v1/disclosures/{community}/{month}{suffix}"), headers=staff)
        assert page.status_code == 200, page.text
        out.append((f"disclosure{suffix or '.html'}", page.content))
    xlsx = p.http.get(p.url("ledger", f"/v1/disclosures/{community}/{month}.xlsx"), headers=staff)
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as z:
        out += [(f"disclosure.xlsx/{name}", z.read(name)) for name in z.namelist()]
    return out
