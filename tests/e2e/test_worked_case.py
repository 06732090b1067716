"""The article's worked case end to end: 金泰和庄 12号楼2单元's shared drain, from a door visit to 销号."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from icalendar import Calendar

from tests.e2e.platform import eventually

pytestmark = pytest.mark.e2e

ATTENDANCE = {
    "party_org": ["章文斌"],
    "owners_committee": ["程立新"],
    "property_company": ["傅振宇"],
    "resident_rep": ["刘秀英", "杨国庆"],
    "partner_unit": ["危俊峰"],
}
REPORT = (
    "金泰和庄12号楼2单元共用下水管反复堵塞，设计坡度太小；一楼门市业主担心店面无法恢复，"
    "不同意维修，全单元14户居民反映强烈"
)


CST = dt.timezone(dt.timedelta(hours=8))


def held_today(p, session_id: str, headers: dict, reason: str) -> None:
    """Move a session to today, as staff do when it meets before its planned day (it is concluded on its day)."""
    now = dt.datetime.now(CST)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight - now < dt.timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds() + 1)  # "today" must still be today when it is concluded
    starts = dt.datetime.now(CST) + dt.timedelta(seconds=30)
    r = p.http.post(
        p.url("meeting", f"/v1/sessions/{session_id}/reschedule"),
        json={"starts_at": starts.isoformat(), "reason": reason},
        headers=headers,
    )
    assert r.status_code == 200, r.text


def test_jintaihezhuang_drain_from_door_visit_to_crossed_off(platform):
    p = platform
    staff = p.headers("party_org", ("xueyuan",))
    grid = p.headers("grid_worker", ("xueyuan",))

    # 1. The month's door-knocking (敲响邻里门): the grid worker of 金泰和庄's grid visits 12号楼2单元 and
    #    reports what the household raised; the report is attributed to him.
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    r = p.http.post(
        p.url("intake", "/v1/visit-campaigns"),
        headers=staff,
        json={"community": "xueyuan", "name": "敲响邻里门", "month": month, "grids": ["xy-g1"]},
    )
    assert r.status_code == 201, r.text
    campaign = r.json()["id"]
    r = p.http.post(
        p.url("intake", f"/v1/visit-campaigns/{campaign}/visits"),
        headers=grid,
        json={
            "compound": "金泰和庄",
            "building": "12",
            "unit": 2,
            "room": "101",
            "visitor": "艾伟东",
            "reports": [{"text": REPORT, "kind": "problem"}],
        },
    )
    assert r.status_code == 201, r.text
    sent = r.json()["reports"][0]
    coverage = p.get("intake", f"/v1/visit-campaigns/{campaign}/coverage").json()
    assert coverage["visitors"][0]["name"] == "艾伟东" and coverage["visitors"][0]["reports"] == 1
    matter_id = eventually(
        lambda: p.get("intake", f"/v1/reports/{sent['report_id']}").json()["matter_id"], what="report triaged"
    )

    # 2. Triage: yellow, deliberate, drainage (权责不清 / 意见分歧 -> a deliberation topic).
    matter = p.get("triage", f"/v1/matters/{matter_id}").json()
    assert (matter["level"], matter["route"], matter["category"]) == ("yellow", "deliberate", "drainage")

    # 3. Meeting: the month's fixed-day session takes it.
    def on_fixed_day():
        for s in p.get("meeting", "/v1/sessions", params={"community": "xueyuan", "kind": "fixed_day"}).json()["items"]:
            detail = p.get("meeting", f"/v1/sessions/{s['id']}").json()
            if s["status"] == "scheduled" and matter_id in [a["matter_id"] for a in detail["agenda"]]:
                return detail
        return None

    fixed = eventually(on_fixed_day, what="the matter on the fixed-day session")
    # The party committee makes it the month's topic (由社区党委班子共同研究，确定为当月主题).
    r = p.http.post(
        p.url("meeting", f"/v1/sessions/{fixed['id']}/agenda"),
        json={"op": "pin", "matter_id": matter_id, "reason": "党委班子研究确定为本月议题"},
        headers=staff,
    )
    assert r.status_code == 200, r.text
    topic = next(a for a in r.json()["agenda"] if a["matter_id"] == matter_id)
    assert topic["pinned"] and r.json()["agenda_set_by"] and r.json()["agenda_changes"][-1]["action"] == "pin"
    hall = p.get("meeting", "/v1/halls/xueyuan").json()
    assert dt.datetime.fromisoformat(fixed["starts_at"]) == dt.datetime.fromisoformat(hall["next_fixed_days"][0])
    ics = Calendar.from_ical(p.http.get(p.url("meeting", "/v1/calendars/xueyuan.ics"), headers=staff).content)
    assert f"{fixed['id']}@jinxi.hall" in {str(e["UID"]) for e in ics.walk("VEVENT")}

    # 4. The fixed-day session meets (on its day) and decides to inspect on site (现场勘察).
    held_today(p, fixed["id"], staff, "党委班子研究后提前召开")
    body = {
        "attendance": ATTENDANCE,
        "resolutions": [{"matter_id": matter_id, "outcome": "site_inspection", "reason": "设计缺陷，需现场勘察"}],
    }
    r = p.http.post(p.url("meeting", f"/v1/sessions/{fixed['id']}/conclude"), json=body, headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "concluded", r.text
    (site_id,) = r.json()["follow_up_sessions"]
    site = p.get("meeting", f"/v1/sessions/{site_id}").json()
    assert site["kind"] == "site_inspection" and site["place"] == "金泰和庄12号楼现场"
    departments = {i["name"] for i in site["invitees"] if i["party"] == "department"}
    assert any("住房保障中心" in d for d in departments), departments
    # The inspection is set for a later day: it cannot be recorded before it has met.
    early = p.http.post(
        p.url("meeting", f"/v1/sessions/{site_id}/conclude"), json={"attendance": ATTENDANCE}, headers=staff
    )
    assert early.status_code == 409 and early.json()["errors"][0]["field"] == "starts_at", early.text
    assert "当天或之后" in early.json()["detail"]
    held_today(p, site_id, staff, "共建单位、住房保障中心与当事人约定今日到现场")

    # 5. On site, all five parties and the housing security centre agree; positions go in the minutes.
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).isoformat()
    positions = {
        "party_org": "社区党委牵头协调，全程监督施工",
        "property_company": "重新铺设加大坡度的排水管，门市地面和装修全额恢复",
        "resident_rep": "施工期间全单元不使用下水",
        "owners_committee": "同意施工方案，协助通知住户",
        "partner_unit": "县住建局提供排水坡度技术意见",
        "department": "住房保障中心现场确认设计缺陷，出具整改意见",
    }
    attendance = {**ATTENDANCE, "partner_unit": ["危俊峰", "曾凡荣"]}
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=15)).isoformat()
    commitments = [
        {
            "text": "物业承诺维修后恢复原样",
            "owner_party": "property_company",
            "owner": "江西锦程物业服务有限公司",
            "due": due,
        },
        {"text": "居民承诺维修时不用下水", "owner_party": "resident_rep", "owner": "12号楼2单元居民", "due": due},
    ]
    stances = [
        {"by_kind": "property_company", "stance": "support", "note": "重铺排水管，门市全额恢复"},
        {"by_kind": "resident_rep", "stance": "support", "note": "施工期间不用下水"},
        {"by_kind": "department", "by": "县住房保障中心", "stance": "support", "note": "确认设计坡度不足"},
        # The shop owners' worry (店面恢复不了原样) is met by the two promises: they consent to the repair.
        {
            "by_kind": "concerned",
            "by": "一楼门市业主",
            "stance": "support",
            "note": "物业承诺维修后恢复原样、居民承诺维修时不用下水，同意配合物业施工",
        },
    ]
    body = {
        "attendance": attendance,
        "departments": [{"department": "zhufang_baozhang", "names": ["住房保障中心工程师"]}],
        "concerned": [{"label": "一楼门市业主", "people": 2}],
        "resolutions": [
            {
                "matter_id": matter_id,
                "outcome": "resolved",
                "measures": (
                    "物业重新铺设12号楼2单元共用排水管（加大坡度），完工后全额恢复一楼门市；居民施工期间不使用下水"
                ),
                "lead_party": "property_company",
                "lead_unit": "江西锦程物业服务有限公司",
                "supporting_units": ["县住房保障中心", "县住建局"],
                "deadline": deadline,
                "positions": positions,
                "stances": stances,
                "commitments": commitments,
            }
        ],
        "notes": "一楼门市业主同意施工",
    }
    r = p.http.post(p.url("meeting", f"/v1/sessions/{site_id}/conclude"), json=body, headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "concluded", r.text
    minutes = p.get("meeting", f"/v1/sessions/{site_id}").json()["minutes"]
    assert minutes["resolutions"][0]["positions"] == positions
    assert minutes["concerned"] == [{"label": "一楼门市业主", "people": 2}]
    assert [d["name"] for d in minutes["departments"]] == ["县住房保障中心"]
    assert [s["stance"] for s in minutes["resolutions"][0]["stances"]] == ["support"] * 4
    consent = minutes["resolutions"][0]["stances"][-1]
    assert (consent["by_kind"], consent["by"]) == ("concerned", "一楼门市业主") and "同意配合" in consent["note"]
    promised = [(c["text"], c["owner"]) for c in minutes["resolutions"][0]["commitments"]]
    assert promised == [
        ("物业承诺维修后恢复原样", "江西锦程物业服务有限公司"),
        ("居民承诺维修时不用下水", "12号楼2单元居民"),
    ]

    # 6. The ledger opens the entry (一事一清单); the property company does the work.
    def entry():
        items = p.get("ledger", "/v1/entries", params={"community": "xueyuan"}).json()["items"]
        return next((e for e in items if e["matter_id"] == matter_id and e["state"] == "assigned"), None)

    ent = eventually(entry, what="a ledger entry assigned to the property company")
    assert ent["lead_unit"] == "江西锦程物业服务有限公司" and ent["lead_party"] == "property_company"
    prop = p.headers("property_company", ("xueyuan",))
    for action, note in (("start", "进场施工"), ("complete", "排水管重铺完成，门市地面已恢复")):
        r = p.http.post(p.url("ledger", f"/v1/entries/{ent['id']}/actions/{action}"), json={"note": note}, headers=prop)
        assert r.status_code == 200, r.text

    # 7. Residents rate it well: three households satisfied (feedback needs min(households, 3) voices).
    revisit = eventually(
        lambda: next(
            (v for v in p.get("feedback", "/v1/revisits").json()["items"] if v["matter_id"] == matter_id), None
        ),
        what="a revisit planned",
    )
    assert revisit["households"] >= 3, str(revisit)
    for i, room in enumerate(("101", "201", "301")):
        r = p.http.post(
            p.url("feedback", f"/v1/matters/{matter_id}/evaluations"),
            headers=grid,
            json={
                "household": f"金泰和庄12-2-{room}",
                "rating": "satisfied",
                "solved": "solved",
                "is_reporter": i == 0,
                "comment": "下水通畅了",
                "method": "home_visit",
                "evidence": {"signature": f"sig-12-2-{room}"},
            },
        )
        assert r.status_code == 201, (i, r.text)
    assert r.json()["round_outcome"] == "satisfied", r.json()

    # 8. The ledger crosses it off (销号) once evaluated; the resident's tracking code shows it closed.
    eventually(
        lambda: p.get("ledger", f"/v1/entries/{ent['id']}").json()["state"] == "evaluated", what="entry evaluated"
    )
    close = p.url("ledger", f"/v1/entries/{ent['id']}/actions/close")
    r = p.http.post(close, json={"note": "销号"}, headers=staff)
    assert r.status_code == 409 and "承诺未核验" in r.json()["detail"], r.text
    promised = p.get("ledger", f"/v1/entries/{ent['id']}").json()["commitments"]
    assert [c["text"] for c in promised] == ["物业承诺维修后恢复原样", "居民承诺维修时不用下水"]
    for c, seen in zip(promised, ("门市地面和装修已恢复原样", "施工期间无住户使用下水"), strict=True):
        url = p.url("ledger", f"/v1/entries/{ent['id']}/commitments/{c['id']}/check")
        r = p.http.post(url, json={"result": "kept", "note": seen}, headers=staff)
        assert r.status_code == 200 and r.json()["state"] == "kept", r.text
    r = p.http.post(close, json={"note": "销号"}, headers=staff)
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text
    # The entry tells the story in words: both promises made at the site, each checked kept, then 销号.
    notes = [t["note"] or "" for t in p.get("ledger", f"/v1/entries/{ent['id']}").json()["timeline"]]
    for text in ("物业承诺维修后恢复原样", "居民承诺维修时不用下水"):
        assert any(n.startswith(f"议事会承诺：{text}") for n in notes), notes
        assert any(n.startswith(f"承诺核验：{text}") and "已兑现" in n for n in notes), notes
    eventually(
        lambda: p.http.get(p.url("intake", f"/v1/track/{sent['tracking_code']}")).json()["status"] == "closed",
        what="tracking status closed",
    )
