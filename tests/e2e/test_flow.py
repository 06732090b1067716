"""The first real flow across all five services, as separate processes."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from services.contracts import Envelope, events
from tests.e2e.platform import eventually
from tests.support import publish_channel_messages

pytestmark = pytest.mark.e2e

PARTIES = ("party_org", "owners_committee", "property_company", "resident_rep", "partner_unit")


def _report(p, community: str, text: str, **extra) -> dict:
    r = p.post("intake", "/v1/reports", {"community": community, "text": text, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _matter_of(p, report_id: str) -> str:
    return eventually(
        lambda: p.get("intake", f"/v1/reports/{report_id}").json()["matter_id"], what="report linked to a matter"
    )


def test_red_report_through_session_ledger_feedback_and_reopen(platform):
    """Red report -> emergency session -> concluded -> ledger entry -> completed -> unsatisfied -> reopened."""
    p = platform
    staff = p.headers("party_org", ("xueyuan",))
    sent = _report(
        p, "xueyuan", "金泰和庄3号楼地下室配电箱冒烟，有焦糊味，电线裸露", phone="13812345678", name="王小明"
    )
    matter_id = _matter_of(p, sent["report_id"])

    matter = p.get("triage", f"/v1/matters/{matter_id}").json()
    assert (matter["level"], matter["route"]) == ("red", "deliberate")

    def emergency():
        for s in p.get("meeting", "/v1/sessions", params={"community": "xueyuan"}).json()["items"]:
            detail = p.get("meeting", f"/v1/sessions/{s['id']}").json()
            if s["kind"] == "emergency" and matter_id in [a["matter_id"] for a in detail["agenda"]]:
                return s
        return None

    session = eventually(emergency, what="an emergency session with the red matter")
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    body = {
        "attendance": {party: [f"{party}-代表"] for party in PARTIES},
        "resolutions": [
            {
                "matter_id": matter_id,
                "outcome": "resolved",
                "measures": "物业当日断电检修，更换配电箱线路",
                "lead_party": "property_company",
                "lead_unit": "江西恒泰物业服务有限公司",
                "deadline": deadline,
            }
        ],
    }
    r = p.http.post(p.url("meeting", f"/v1/sessions/{session['id']}/conclude"), json=body, headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "concluded", r.text

    def entry():
        items = p.get("ledger", "/v1/entries", params={"community": "xueyuan"}).json()["items"]
        return next((e for e in items if e["matter_id"] == matter_id), None)

    ent = eventually(entry, what="a ledger entry for the concluded matter")
    assert ent["state"] == "assigned"
    prop = p.headers("property_company", ("xueyuan",))
    for action, note in (("start", None), ("complete", "线路已更换，通电正常")):
        r = p.http.post(
            p.url("ledger", f"/v1/entries/{ent['id']}/actions/{action}"),
            json={"note": note} if note else {},
            headers=prop,
        )
        assert r.status_code == 200, r.text

    # The resident sees the progress by tracking code, without logging in.
    eventually(
        lambda: p.http.get(p.url("intake", f"/v1/track/{sent['tracking_code']}")).json()["status"] == "completed",
        what="tracking status completed",
    )

    eventually(
        lambda: any(v["matter_id"] == matter_id for v in p.get("feedback", "/v1/revisits").json()["items"]),
        what="a revisit planned",
    )
    grid = p.headers("grid_worker", ("xueyuan",))
    r = p.http.post(
        p.url("feedback", f"/v1/matters/{matter_id}/evaluations"),
        headers=grid,
        json={
            "household": "金泰和庄3-1-101",
            "rating": "unsatisfied",
            "solved": "unsolved",
            "is_reporter": True,
            "comment": "还是有焦糊味",
            "method": "home_visit",
            "evidence": {"photos": ["https://img.example.cn/visit/3-1-101.jpg"]},
        },
    )
    assert r.status_code == 201, r.text
    eventually(
        lambda: p.get("ledger", f"/v1/entries/{ent['id']}").json()["state"] == "reopened", what="ledger entry reopened"
    )
    eventually(
        lambda: p.http.get(p.url("intake", f"/v1/track/{sent['tracking_code']}")).json()["status"] == "reopened",
        what="tracking status reopened",
    )
    # Reopened matters return to the meeting's agenda.
    eventually(
        lambda: (
            any(q["matter_id"] == matter_id for q in p.get("meeting", "/v1/queue").json()["items"])
            or emergency() is not None
        ),
        what="reopened matter back with the meeting",
    )


async def _publish_channel_message(amqp_url: str, text: str, msg_id: str) -> None:
    env = Envelope.new(
        type="channel.message.v1",
        source="/adapters/wecom-bot",
        community="jinshan",
        data=events.ChannelMessage(
            channel="wechat_group",
            channel_message_id=msg_id,
            text=text,
            sender=events.Sender(name="李四", phone="13900001111"),
        ),
    )
    await publish_channel_messages(amqp_url, [env])


async def test_wechat_group_adapter_message_becomes_a_direct_ledger_entry(platform, vhost):
    """A channel.message.v1 on hall.channels -> report -> yellow/direct matter -> ledger entry assigned at once."""
    p = platform
    msg_id = f"wx-{uuid.uuid4().hex[:8]}"
    await _publish_channel_message(vhost, "@物业 景湖花园5栋2单元楼道灯又不亮了[图片]", msg_id)
    await _publish_channel_message(vhost, "@物业 景湖花园5栋2单元楼道灯又不亮了[图片]", msg_id)  # duplicate

    def report():
        rows = [
            r
            for r in p.get("intake", "/v1/reports", params={"community": "jinshan"}).json()["items"]
            if r["channel"] == "wechat_group"
        ]
        return rows if rows and rows[0]["matter_id"] else None

    rows = eventually(report, what="the wechat report triaged")
    assert len(rows) == 1, "the same channel message id must be one report"
    assert rows[0]["reporter"]["phone"] == "139****1111" and (rows[0]["building"], rows[0]["unit"]) == ("5", "2")
    matter = p.get("triage", f"/v1/matters/{rows[0]['matter_id']}").json()
    assert matter["route"] == "direct" and matter["category"] == "lighting"
    items = eventually(
        lambda: p.get("ledger", "/v1/entries", params={"community": "jinshan"}).json()["items"],
        what="a direct ledger entry",
    )
    assert [e["matter_id"] for e in items] == [matter["id"]] and items[0]["state"] == "assigned"
    assert json.dumps(items, ensure_ascii=False).find("13900001111") == -1


def test_tenant_isolation_across_services(platform):
    """Staff of one community get 404/403 on another community's data in every service."""
    p = platform
    sent = _report(p, "jinshan", "景湖花园8号楼门口路灯坏了")
    matter_id = _matter_of(p, sent["report_id"])
    other = p.headers("party_org", ("wenzhuang",))
    assert p.http.get(p.url("intake", f"/v1/reports/{sent['report_id']}"), headers=other).status_code == 404
    assert p.http.get(p.url("triage", f"/v1/matters/{matter_id}"), headers=other).status_code == 404
    assert p.http.get(p.url("intake", "/v1/reports"), headers=other).json()["items"] == []
    assert p.http.get(p.url("triage", "/v1/matters"), headers=other).json()["items"] == []
    entries = eventually(lambda: p.get("ledger", "/v1/entries").json()["items"], what="ledger entry")
    assert p.http.get(p.url("ledger", f"/v1/entries/{entries[0]['id']}"), headers=other).status_code == 404
    assert p.http.get(p.url("ledger", "/v1/entries"), headers=other).json()["items"] == []
    forbidden = p.http.get(p.url("ledger", "/v1/entries"), params={"community": "jinshan"}, headers=other)
    assert forbidden.status_code == 403
    assert p.http.get(p.url("meeting", "/v1/sessions"), headers=other).json()["items"] == []
    assert p.http.get(p.url("intake", "/v1/reports")).status_code == 401
