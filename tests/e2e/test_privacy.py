"""No phone number, name or room number escapes intake: events, logs, public pages, Open311, disclosures."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import zipfile

import aio_pika
import pytest

from services.contracts import EVENTS_EXCHANGE
from tests.e2e.platform import eventually

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

    async def _on(self, msg):
        self.bodies.append(msg.body)

    async def stop(self):
        await self.conn.close()


def _leaks(blob: bytes, where: str) -> list[str]:
    found = []
    text = blob.decode("utf-8", errors="ignore")
    for name, phone, room in PEOPLE:
        for secret in (name, phone, f"{room}室", f"栋{room}", f"-{room}"):
            if secret in text:
                found.append(f"{where}: {secret!r}")
    found += [f"{where}: phone {m.group().decode()}" for m in PHONE_RE.finditer(blob)]
    return found


async def test_a_realistic_stream_leaks_no_personal_data(platform, vhost):
    p = platform
    tap = Tap(vhost)
    await tap.start()
    try:
        await asyncio.to_thread(_feed, p)
        await asyncio.sleep(3)  # let the last events pass the tap
    finally:
        await tap.stop()
    leaks: list[str] = []
    assert tap.bodies, "the tap saw no events"
    for body in tap.bodies:
        leaks += _leaks(body, "event")
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


def _public_pages(p) -> list[str]:
    leaks = []
    for code in p.codes:
        leaks += _leaks(p.http.get(p.url("intake", f"/v1/track/{code}")).content, "track")
    leaks += _leaks(
        p.http.get(p.url("intake", "/open311/v2/requests.json"), params={"jurisdiction_id": "jinshan"}).content,
        "open311 json",
    )
    leaks += _leaks(
        p.http.get(p.url("intake", "/open311/v2/requests.xml"), params={"jurisdiction_id": "jinshan"}).content,
        "open311 xml",
    )
    month = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    staff = p.headers("party_org", ("jinshan",))
    r = p.http.post(p.url("ledger", "/v1/disclosures"), json={"community": "jinshan", "month": month}, headers=staff)
    assert r.status_code == 201, r.text
    for suffix in ("", ".csv", ".txt", ".json"):
        page = p.http.get(p.url("ledger", f"/v1/disclosures/jinshan/{month}{suffix}"), headers=staff)
        assert page.status_code == 200, page.text
        leaks += _leaks(page.content, f"disclosure{suffix or '.html'}")
    xlsx = p.http.get(p.url("ledger", f"/v1/disclosures/jinshan/{month}.xlsx"), headers=staff)
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as z:
        for name in z.namelist():
            leaks += _leaks(z.read(name), f"disclosure.xlsx/{name}")
    return leaks
