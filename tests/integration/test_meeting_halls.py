"""Halls, calendar feeds, rescheduling, hand-convened site inspections and per-party positions."""

# ruff: noqa: F811 - the `client` fixture is imported from test_meeting_api and used as a parameter

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar
from sqlmodel import select

from services.contracts import events
from services.meeting import domain
from services.meeting.models import Notice
from tests.integration.test_meeting_api import (  # noqa: F401 - fixtures
    QUORUM,
    _clock,
    client,
    fixed_session,
    matter,
    outbox,
    resolved,
    seed,
    token,
    triaged,
)
from tests.support import on_the_day

pytestmark = pytest.mark.integration


def notices(c) -> list[Notice]:
    ctx = c.app.state.ctx

    async def run():
        async with ctx.db.session() as s:
            return list((await s.exec(select(Notice).order_by(Notice.id))).all())

    return c.portal.call(run)


def test_hall_shows_parties_departments_fixed_days_and_quorum(client):
    r = client.get("/v1/halls/xueyuan", headers=token("resident_rep"))
    assert r.status_code == 200, r.text
    hall = r.json()
    assert hall["place"] == "学苑社区党群服务中心一楼五方议事厅" and hall["fixed_day"] == "每月第二个星期四 14:30"
    assert (hall["hall_name_en"], hall["fixed_day_en"]) == (
        "学苑社区 five-party hall",
        "the second Thursday of each month, 14:30",
    )
    # From Tue 2025-03-04: the second Thursdays of March, April and May.
    assert [dt.datetime.fromisoformat(d) for d in hall["next_fixed_days"]] == [
        dt.datetime(2025, 3, 13, 14, 30, tzinfo=domain.TZ),
        dt.datetime(2025, 4, 10, 14, 30, tzinfo=domain.TZ),
        dt.datetime(2025, 5, 8, 14, 30, tzinfo=domain.TZ),
    ]
    assert [p["party"] for p in hall["parties"]] == list(QUORUM)
    party_org = hall["parties"][0]
    assert party_org["label"] == "社区党组织" and party_org["members"][0]["name"] == "章文斌"
    assert party_org["members"][0]["phone"] == "138****2001"
    assert "13800002001" not in r.text and "jincheng-wy.example" not in r.text
    housing = next(d for d in hall["departments"] if d["code"] == "zhufang_baozhang")
    assert "drainage" in housing["categories"]
    assert hall["quorum"] == list(QUORUM) and hall["topics_per_session"] == 6 and hall["notices_channel"] == "log"
    assert client.get("/v1/halls/jinshan", headers=token()).status_code == 404
    assert client.get("/v1/halls/nowhere", headers=token("county_operator", ("*",))).status_code == 404


def test_community_and_participant_calendars(client):
    seed(client, triaged("mat_cal1", level="red"), triaged("mat_cal2"))
    r = client.get("/v1/calendars/xueyuan.ics", headers=token("owners_committee"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert len(cal.walk("VEVENT")) == 2 and cal.walk("VTIMEZONE")
    assert client.get("/v1/calendars/xueyuan.ics").status_code == 401
    assert client.get("/v1/calendars/xueyuan.ics", headers=token(communities=("jinshan",))).status_code == 404

    assert client.get("/v1/halls/xueyuan/feeds", headers=token("resident_rep")).status_code == 403
    feeds = client.get("/v1/halls/xueyuan/feeds", headers=token()).json()["items"]
    mine = next(f for f in feeds if f["name"] == "刘秀英")
    path = mine["url"].split("://", 1)[1].split("/", 1)[1]
    r = client.get(f"/{path}")  # no bearer header: the token in the URL is the credential
    assert r.status_code == 200, r.text
    cal = Calendar.from_ical(r.content)
    assert "刘秀英" in str(cal["X-WR-CALNAME"]) and len(cal.walk("VEVENT")) == 2
    assert client.get("/v1/calendars/participants/" + "A" * 32 + ".ics").status_code == 404


def test_reschedule_bumps_sequence_emits_rescheduled_and_notifies(client):
    seed(client, triaged("mat_rs1", level="red"))
    sid = client.get("/v1/sessions", params={"kind": "emergency"}, headers=token()).json()["items"][0]["id"]
    invitations = [n for n in notices(client) if n.kind == "invitation"]
    assert invitations and all(n.session_id == sid and n.channel == "log" for n in invitations)

    body = {"starts_at": "2025-03-05T15:00:00", "reason": "物业负责人赶赴现场，推迟半天", "place": "金泰和庄物业办公室"}
    r = client.post(f"/v1/sessions/{sid}/reschedule", json=body, headers=token())
    assert r.status_code == 200, r.text
    assert dt.datetime.fromisoformat(r.json()["starts_at"]) == dt.datetime(2025, 3, 5, 15, 0, tzinfo=domain.TZ)
    assert r.json()["place"] == "金泰和庄物业办公室"
    last = [e for e in outbox(client) if e.subject == sid][-1]
    payload = events.SessionScheduled.model_validate(last.data)
    assert payload.status == "rescheduled" and payload.agenda == ["mat_rs1"]
    changes = [n for n in notices(client) if n.kind == "rescheduled.1"]
    assert {n.recipient for n in changes} == {n.recipient for n in invitations}
    ics = Calendar.from_ical(client.get("/v1/calendars/xueyuan.ics", headers=token()).content)
    (ev,) = ics.walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 1 and str(ev["LOCATION"]) == "金泰和庄物业办公室"

    # In the past, no change at all, wrong role, other community: refused, nothing stored.
    past = {**body, "starts_at": "2025-03-01T09:00:00+08:00"}
    assert client.post(f"/v1/sessions/{sid}/reschedule", json=past, headers=token()).status_code == 422
    assert client.post(f"/v1/sessions/{sid}/reschedule", json=body, headers=token()).status_code == 422
    assert client.post(f"/v1/sessions/{sid}/reschedule", json=body, headers=token("resident_rep")).status_code == 403
    other = token(communities=("jinshan",))
    assert client.post(f"/v1/sessions/{sid}/reschedule", json=body, headers=other).status_code == 404
    assert (
        client.post(
            f"/v1/sessions/{sid}/reschedule", json={"starts_at": body["starts_at"]}, headers=token()
        ).status_code
        == 422
    )

    r = client.post(f"/v1/sessions/{sid}/cancel", json={"reason": "已当场处置"}, headers=token())
    assert r.status_code == 200
    assert {n.kind for n in notices(client)} >= {"invitation", "rescheduled.1", "cancelled"}
    (ev,) = Calendar.from_ical(client.get("/v1/calendars/xueyuan.ics", headers=token()).content).walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 2 and str(ev["STATUS"]) == "CANCELLED"


def test_rescheduled_fixed_day_session_still_holds_its_fixed_day(client):
    from services.meeting import service

    seed(client, triaged("mat_fd1"))
    sid = fixed_session(client)["id"]
    body = {"starts_at": "2025-03-13T16:00:00+08:00", "reason": "会场占用"}
    assert client.post(f"/v1/sessions/{sid}/reschedule", json=body, headers=token()).status_code == 200
    seed(client, triaged("mat_fd2"))
    assert client.portal.call(service.plan_all, client.app.state.ctx.bus.uow) == 0
    s = fixed_session(client)  # still one fixed-day session, holding both
    assert s["id"] == sid and s["agenda_count"] == 2


def test_site_inspection_convened_for_a_matter_with_positions_recorded(client, monkeypatch):
    seed(client, triaged("mat_site1"))
    fixed = fixed_session(client)["id"]
    r = client.post("/v1/sessions", json={"kind": "site_inspection", "matter_id": "mat_site1"}, headers=token())
    assert r.status_code == 201, r.text
    site = r.json()
    assert site["kind"] == "site_inspection" and site["place"] == "金泰和庄12号楼现场"
    assert dt.datetime.fromisoformat(site["starts_at"]) == dt.datetime(2025, 3, 5, 9, 30, tzinfo=domain.TZ)
    # It left the fixed-day agenda for the inspection.
    assert client.get(f"/v1/sessions/{fixed}", headers=token()).json()["agenda"] == []
    detail = client.get(f"/v1/sessions/{site['id']}", headers=token()).json()
    assert "住房保障中心" in "".join(i["name"] for i in detail["invitees"] if i["party"] == "department")
    again = client.post("/v1/sessions", json={"kind": "site_inspection", "matter_id": "mat_site1"}, headers=token())
    assert again.status_code == 409
    assert (
        client.post("/v1/sessions", json={"kind": "fixed_day", "matter_id": "mat_site1"}, headers=token()).status_code
        == 422
    )
    assert (
        client.post("/v1/sessions", json={"kind": "site_inspection", "matter_id": "nope"}, headers=token()).status_code
        == 404
    )
    other = token(communities=("jinshan",))
    assert (
        client.post(
            "/v1/sessions", json={"kind": "site_inspection", "matter_id": "mat_site1"}, headers=other
        ).status_code
        == 404
    )

    positions = {
        "property_company": "全额恢复门市地面和装修",
        "resident_rep": "施工期间不使用下水",
        "owners_committee": "同意动用维修资金",
    }
    body = {"attendance": QUORUM, "resolutions": [resolved("mat_site1", positions=positions)]}
    on_the_day(monkeypatch, client, site["id"])
    r = client.post(f"/v1/sessions/{site['id']}/conclude", json=body, headers=token())
    assert r.status_code == 200, r.text
    concluded = [e for e in outbox(client) if e.type == "session.concluded.v1"][-1]
    assert events.SessionConcluded.model_validate(concluded.data).resolutions[0].positions == positions
    minutes = client.get(f"/v1/sessions/{site['id']}", headers=token()).json()["minutes"]
    assert minutes["resolutions"][0]["positions"]["resident_rep"] == "施工期间不使用下水"
    bad = {"attendance": QUORUM, "resolutions": [resolved("mat_site1", positions={"mayor": "x"})]}
    assert client.post(f"/v1/sessions/{site['id']}/conclude", json=bad, headers=token()).status_code == 422
    assert matter(client, "mat_site1").state == "resolved"
