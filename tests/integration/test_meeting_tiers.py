"""小事不出小区、大事不出社区 over HTTP: a compound's own meeting, staff moving a matter, referring it up."""

# ruff: noqa: F811 - the `client` fixture is imported from test_meeting_api and used as a parameter

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import Envelope, events
from services.meeting import domain, planner
from tests.integration.test_meeting_api import (  # noqa: F401 - fixtures
    NOW,
    _clock,
    _own_vhost,
    client,
    matter,
    outbox,
    seed,
    token,
)
from tests.support import on_the_day

pytestmark = pytest.mark.integration

JS = ("jinshan",)


def compound_matter(matter_id: str, *, category: str = "parking", households: int = 8, compound="jinghuhuayuan"):
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=[f"rpt_{matter_id}"],
        title=f"{matter_id} 景湖花园5号楼门前车辆乱停",
        place=events.Place(compound=compound, building="5"),
        kind="problem",
        category=category,
        level="yellow",
        route="deliberate",
        confidence=0.9,
        households=households,
        triaged_at=NOW,
    )
    env = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="jinshan", data=data)
    return env, data


def sessions(c) -> dict[str, dict]:
    items = c.get("/v1/sessions", params={"community": "jinshan"}, headers=token(communities=JS)).json()["items"]
    return {s["hall"]: s for s in items}


def test_a_compound_matter_meets_at_the_compound_and_can_be_referred_up(client, monkeypatch):
    seed(client, compound_matter("mat_park"), compound_matter("mat_road", category="road"))
    by_hall = sessions(client)
    assert set(by_hall) == {"jinghuhuayuan", "community"}
    small, hall = by_hall["jinghuhuayuan"], by_hall["community"]
    assert (small["tier_label"], small["place"], small["compound"]) == (
        "小区议事会",
        "景湖花园业主委员会活动室",
        "jinghuhuayuan",
    )
    # 每月第一个星期三 19:30: Wednesday 2025-03-05, the day after the clock (Tuesday 03-04).
    assert dt.datetime.fromisoformat(small["starts_at"]) == dt.datetime(2025, 3, 5, 19, 30, tzinfo=domain.TZ)
    detail = client.get(f"/v1/sessions/{small['id']}", headers=token(communities=JS)).json()
    assert [a["matter_id"] for a in detail["agenda"]] == ["mat_park"]
    # The compound's own members and the community's grid worker, no departments.
    assert {(i["party"], i["name"]) for i in detail["invitees"]} == {
        ("party_org", "徐志强"),
        ("owners_committee", "陆国平"),
        ("property_company", "周海涛"),
        ("resident_rep", "陆有福"),
    }
    ann = [e for e in outbox(client) if e.type == "session.scheduled.v1" and e.subject == small["id"]]
    assert (ann[-1].data["hall"], ann[-1].data["hall_name"]) == ("jinghuhuayuan", "景湖花园小区议事会")
    # A road is the county's: the community hall.
    hall_detail = client.get(f"/v1/sessions/{hall['id']}", headers=token(communities=JS)).json()
    assert [a["matter_id"] for a in hall_detail["agenda"]] == ["mat_road"]
    tier = client.get("/v1/matters/mat_road/tier", headers=token(communities=JS)).json()
    assert (tier["tier"], tier["hall_name"]) == ("community", "金山社区五方议事厅") and "职能部门" in tier[
        "rule_reason"
    ]
    # The English twins, in words: the category by its English name, never its code.
    assert (tier["hall_name_en"], tier["rule_reason_en"]) == (
        "金山社区 five-party hall",
        "Roads: matters of this kind need the community or a department",
    )

    # A refer-up is for compound meetings only.
    on_the_day(monkeypatch, client, hall["id"])  # a session is concluded on or after its day
    bad = client.post(
        f"/v1/sessions/{hall['id']}/conclude",
        json={"attendance": {}, "resolutions": [{"matter_id": "mat_road", "outcome": "refer_up", "reason": "x"}]},
        headers=token(communities=JS),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "resolutions[0].outcome"
    monkeypatch.setattr(planner, "utcnow", lambda: dt.datetime(2025, 3, 5, 21, 0, tzinfo=domain.TZ))
    # The compound's quorum: grid worker, property company, 楼栋长 (no partner unit needed).
    r = client.post(
        f"/v1/sessions/{small['id']}/conclude",
        json={
            "attendance": {"party_org": ["徐志强"], "property_company": ["周海涛"], "resident_rep": ["陆有福"]},
            "resolutions": [
                {"matter_id": "mat_park", "outcome": "refer_up", "reason": "涉及小区外市政道路划线，需社区协调"}
            ],
        },
        headers=token(communities=JS),
    )
    assert r.status_code == 200 and r.json()["status"] == "concluded", r.text
    # 大事不出社区: on the community hall's next fixed day, the referral on the record.
    moved = matter(client, "mat_park")
    assert (moved.state, moved.session_id, moved.tier_override) == ("scheduled", hall["id"], "community")
    tier = client.get("/v1/matters/mat_park/tier", headers=token(communities=JS)).json()
    assert tier["rule_tier"] == "compound" and tier["tier"] == "community"
    assert tier["rule_reason_en"] == "A matter within 景湖花园: small matters stay in the compound"
    assert [(c["action"], c["session_id"], c["reason"]) for c in tier["changes"]] == [
        ("refer_up", small["id"], "涉及小区外市政道路划线，需社区协调")
    ]
    assert tier["changes"][0]["reason_en"] == "涉及小区外市政道路划线，需社区协调"  # the staff's words, as typed
    done = [e for e in outbox(client) if e.type == "session.concluded.v1"][-1]
    assert done.data["resolutions"][0]["outcome"] == "refer_up"


def test_staff_move_a_matter_between_halls_and_back_to_the_rule(client):
    seed(client, compound_matter("mat_lamp", category="lighting"))
    small = sessions(client)["jinghuhuayuan"]
    assert matter(client, "mat_lamp").session_id == small["id"]
    headers = token(communities=JS)
    assert client.post("/v1/matters/mat_lamp/tier", json={"tier": "community"}, headers=headers).status_code == 422
    r = client.post(
        "/v1/matters/mat_lamp/tier",
        json={"tier": "community", "reason": "党委研究：并入全社区路灯改造"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["tier"], r.json()["override"]) == ("community", "community")
    hall = sessions(client)["community"]
    assert matter(client, "mat_lamp").session_id == hall["id"]
    left = client.get(f"/v1/sessions/{small['id']}", headers=headers).json()
    assert left["agenda"] == []
    r = client.post("/v1/matters/mat_lamp/tier", json={"tier": "auto", "reason": "按规则"}, headers=headers)
    assert r.json()["tier"] == "compound" and matter(client, "mat_lamp").session_id == small["id"]
    assert [c["action"] for c in r.json()["changes"]] == ["set", "auto"]
    # A compound without its own meeting cannot take one; another community's staff see nothing.
    seed(client, compound_matter("mat_xg", compound="xiugumingyuan"))
    r = client.post("/v1/matters/mat_xg/tier", json={"tier": "compound", "reason": "试"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tier"
    assert client.get("/v1/matters/mat_lamp/tier", headers=token()).status_code == 404
    assert (
        client.post(
            "/v1/matters/mat_lamp/tier", json={"tier": "auto", "reason": "x"}, headers=token("grid_worker", JS)
        ).status_code
        == 403
    )
    hall_out = client.get("/v1/halls/jinshan", headers=headers).json()
    (ch,) = hall_out["compound_halls"]
    assert (ch["name"], ch["fixed_day"], ch["quorum_labels"][0]) == (
        "景湖花园小区议事会",
        "每月第一个星期三 19:30",
        "社区党组织",
    )
    assert (ch["name_en"], ch["fixed_day_en"]) == (
        "景湖花园 compound meeting",
        "the first Wednesday of each month, 19:30",
    )
