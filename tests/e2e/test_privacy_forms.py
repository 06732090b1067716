"""Personal data written the way residents and staff really write it never reaches a public surface.

test_privacy.py streams the usual forms; this one sends what its probe did not try, through every way in (the
resident API, a 12345 order, a WeChat group message on hall.channels, an Open311 client) and every staff way of
writing (notes, an unsatisfied comment and its reopen): phones in Chinese numerals, grouped landlines, WeChat and
QQ handles, ID tails, licence plates, rooms as 11楼03 / 7#1903 / 住在2804, names with kin terms and honorifics,
staff after their role, 12345 boilerplate, English names and mail, and a photo named after a phone number.
Then it reads the tracking pages, Open311 (JSON and XML, list and one), the questionnaire, every disclosure format,
and report.received.v1, whose contract says it carries no personal data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import unicodedata
import uuid

import pytest

from services.contracts import Envelope, events
from tests.e2e.platform import eventually
from tests.e2e.test_privacy import Tap, _quiet, disclosure_contents
from tests.support import publish_channel_messages, wait_for

pytestmark = pytest.mark.e2e

# Distinctive values: finding one on a public surface can only be a leak.
SECRETS = (
    "七七七七八八八",  # 幺三九 七七七七 八八八幺, a phone in Chinese numerals
    "13977778881",
    "86776655",  # 0791 8677 6655
    "wxid_q7r8s9t0",
    "liuhz1977",  # vx: liuhz1977
    "7788990011",  # 扣扣
    "7K8M9",  # 赣A·7K8M9
    "483X",  # 身份证后四位483X
    "11楼03",
    "11楼02",  # an Open311 address_string
    "1903",  # 7#1903
    "2804",  # 住在2804
    "西门晓峰",  # 网格员西门晓峰
    "独孤伟",  # 楼长独孤伟
    "宇文建华",  # 业主宇文建华同意
    "呼延红梅",  # 来电人 / 诉求人
    "司徒姐",
    "轩辕姓",
    "Whitfield",
    "j.whitfield@example.org",
    "13977778882",  # in a photo's file name
)
MASKED = re.compile(r"\d{3}\*{4}\d{4}|[\u4e00-\u9fff]\*{1,3}")
REPORT_TEXT = "景湖花园2栋11楼03楼道灯坏了好几天，电话幺三九 七七七七 八八八幺，司徒姐家门口最暗"
HOTLINE = (
    "【12345工单】来电人：呼延红梅，联系电话：幺三九七七七七八八八幺。诉求人呼延红梅反映景湖花园3栋住在2804，"
    "楼道灯不亮，轩辕姓业主也说过"
)
WECHAT = "@物业 景湖花园5栋7#1903门口灯坏了 加我微信 wxid_q7r8s9t0 或者扣扣 7788990011 楼下宇文建华家也黑"
OPEN311 = "Contact John Whitfield j.whitfield@example.org, Mr. Whitfield says the lamp at building 6 is out"
PHOTO = "https://img.example.cn/wx/13977778882_wangjh.jpg"
NOTES = {
    "start": "网格员西门晓峰上门，先联系了楼长独孤伟（固话0791 8677 6655）",
    "progress": "给宇文建华家（7#1903）送了临时照明，业主宇文建华同意整改，车牌赣A·7K8M9的车已挪走",
    "complete": "已为呼延红梅（身份证后四位483X，vx: liuhz1977）更换灯具，住在2804的邻居也确认了",
}
COMMENT = "还是不亮，加我微信 wxid_q7r8s9t0，我是轩辕姓业主，11楼03"


def _leaks(blob: bytes, where: str) -> list[str]:
    text = blob.decode("utf-8", errors="ignore")
    flat = re.sub(r"[\s\-.·]", "", unicodedata.normalize("NFKC", text))
    found = [f"{where}: {s!r}" for s in SECRETS if s in text or s in flat]
    return found + [f"{where}: masked {m.group()!r}" for m in MASKED.finditer(text)]


async def test_personal_data_as_people_write_it_reaches_no_public_surface(platform, vhost):
    p = platform
    tap = Tap(vhost)
    await tap.start()
    try:
        codes = await asyncio.to_thread(_send, p)
        await publish_channel_messages(vhost, [_wechat_message()])
        forms = await asyncio.to_thread(_handle, p, codes[0])
        await asyncio.to_thread(wait_for, lambda: _quiet(p, vhost), 60, interval=2, what="the platform quiet")
        await tap.drain()
    finally:
        await tap.stop()
    leaks: list[str] = []
    received = [b for b in tap.bodies if json.loads(b).get("type") == "report.received.v1"]
    assert len(received) >= 4, "every way in announced its report"
    for body in received:  # the contract: no personal data, masked or not
        leaks += _leaks(body, "event report.received.v1")
    leaks += await asyncio.to_thread(_public, p, codes, forms)
    assert not leaks, "personal data reached a public surface:\n" + "\n".join(sorted(set(leaks)))


def _wechat_message() -> Envelope:
    return Envelope.new(
        type="channel.message.v1",
        source="/adapters/wecom-bot",
        community="jinshan",
        data=events.ChannelMessage(
            channel="wechat_group",
            channel_message_id=f"wx-{uuid.uuid4().hex[:8]}",
            text=WECHAT,
            sender=events.Sender(name="宇文建华", phone="13977778883"),
            photos=[PHOTO],
        ),
    )


def _send(p) -> list[str]:
    """The resident API, a 12345 order and an Open311 client; returns the tracking codes."""
    r = p.post("intake", "/v1/reports", {"community": "jinshan", "channel": "miniprogram", "text": REPORT_TEXT})
    assert r.status_code == 201, r.text
    codes = [r.json()["tracking_code"]]
    r = p.post(
        "intake",
        "/v1/hotline-orders",
        {
            "community": "jinshan",
            "order_no": f"GD-{uuid.uuid4().hex[:10]}",
            "called_at": dt.datetime.now(dt.UTC).isoformat(),
            "content": HOTLINE,
            "contact_name": "呼延红梅",
            "contact_phone": "13977778881",
        },
    )
    assert r.status_code == 201, r.text
    key = p.post("intake", "/v1/apikeys", {"name": "gateway", "channels": ["open311"], "communities": ["jinshan"]})
    assert key.status_code == 201, key.text
    r = p.http.post(
        p.url("intake", "/open311/v2/requests.json"),
        data={
            "api_key": key.json()["key"],
            "jurisdiction_id": "jinshan",
            "service_code": "lighting",
            "description": OPEN311,
            "first_name": "John",
            "last_name": "Whitfield",
            "email": "j.whitfield@example.org",
            "media_url": PHOTO,
            "address_string": "景湖花园6栋11楼02",
        },
    )
    assert r.status_code in (200, 201), r.text
    return codes


def _handle(p, code: str) -> list[str]:
    """Staff handle the first report's matter with notes as they write them; the reporter is unsatisfied."""
    prop, org = p.headers("property_company", ("jinshan",)), p.headers("party_org", ("jinshan",))
    rows = p.get("intake", "/v1/reports", params={"community": "jinshan", "limit": 500}).json()["items"]
    report = next(r for r in rows if r["tracking_code"] == code)
    matter_id = eventually(lambda: p.get("intake", f"/v1/reports/{report['id']}").json()["matter_id"], what="matter")

    def entry():
        items = p.get("ledger", "/v1/entries", params={"community": "jinshan", "limit": 500}).json()["items"]
        return next((e for e in items if e["matter_id"] == matter_id and e["state"] == "assigned"), None)

    ent = eventually(entry, timeout=90, what="entry assigned")
    for action, note in NOTES.items():
        r = p.http.post(p.url("ledger", f"/v1/entries/{ent['id']}/actions/{action}"), json={"note": note}, headers=prop)
        assert r.status_code == 200, r.text

    def revisit():
        items = p.get("feedback", "/v1/revisits").json()["items"]
        return next((v for v in items if v["matter_id"] == matter_id), None)

    eventually(revisit, what="revisit")
    r = p.post(
        "feedback", f"/v1/matters/{matter_id}/questionnaire-links", {"households": ["景湖花园2-1-1103"]}, headers=org
    )
    assert r.status_code == 201, r.text
    form = r.json()["links"][0]["path"]
    r = p.post(
        "feedback",
        f"/v1/matters/{matter_id}/evaluations",
        {
            "household": "景湖花园2-1-1103",
            "rating": "unsatisfied",
            "solved": "unsolved",
            "is_reporter": True,
            "comment": COMMENT,
            "method": "home_visit",
            "evidence": {"photos": ["https://img.example.cn/visit/呼延红梅-11楼03.jpg"]},  # a caption as a name
        },
        headers=org,
    )
    assert r.status_code == 201, r.text
    assert r.json()["round_outcome"] == "reopen", r.text  # its reason travels on; the quiet wait sees it land
    return [form]


def _public(p, codes: list[str], forms: list[str]) -> list[str]:
    leaks = []
    for code in codes:
        leaks += _leaks(p.http.get(p.url("intake", f"/v1/track/{code}")).content, "track")
    for path in forms:
        leaks += _leaks(p.http.get(p.url("feedback", path)).content, "questionnaire")
    for fmt in ("json", "xml"):
        listed = p.http.get(p.url("intake", f"/open311/v2/requests.{fmt}"), params={"jurisdiction_id": "jinshan"})
        assert listed.status_code == 200, listed.text
        leaks += _leaks(listed.content, f"open311 {fmt}")
    for req in p.http.get(p.url("intake", "/open311/v2/requests.json"), params={"jurisdiction_id": "jinshan"}).json():
        one = p.http.get(p.url("intake", f"/open311/v2/requests/{req['service_request_id']}.json"))
        leaks += _leaks(one.content, "open311 one")
    for where, content in disclosure_contents(p, "jinshan"):
        leaks += _leaks(content, where)
    return leaks
