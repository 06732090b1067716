"""Direct matters go to the unit of their category; 转办 goes to a directory unit, whose people are told."""

# ruff: noqa: F811 - the `client` fixture is imported from test_ledger_actions and used as a parameter

from __future__ import annotations

import uuid

import pytest

from services.contracts import events
from services.ledger import handlers, service
from tests.integration.test_ledger_actions import NOW, PARTY, act, client, feed, token  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def direct(client, category: str, title: str) -> dict:
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title=title,
        place=events.Place(compound="jinghuhuayuan", building="3"),
        kind="problem",
        category=category,
        level="green",
        route="direct",
        confidence=0.9,
        triaged_at=NOW,
    )
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", data, matter_id)
    return detail(client, service.entry_id_for(matter_id))


def detail(client, entry_id: str) -> dict:
    r = client.get(f"/v1/entries/{entry_id}", headers=token("party_org", PARTY))
    assert r.status_code == 200, r.text
    return r.json()


def test_direct_matters_are_assigned_by_category_not_always_to_the_property_company(client):
    lamp = direct(client, "lighting", "景湖花园3号楼楼道灯不亮")
    assert (lamp["lead_party"], lamp["lead_unit"]) == ("property_company", "江西恒泰物业服务有限公司")
    elderly = direct(client, "elderly_care", "景湖花园3号楼独居老人需要助餐")
    assert (elderly["lead_party"], elderly["lead_unit"]) == ("party_org", PARTY)
    assert "社区负责" in elderly["timeline"][-1]["note"]
    power = direct(client, "utilities", "景湖花园3号楼整栋停电")
    assert (power["lead_party"], power["lead_unit"]) == ("partner_unit", "国网金溪县供电公司")
    # A unit outside the community is told at once (its roster liaison here).
    told = [(n["kind"], n["kind_label"], n["to"]) for n in power["notices"]]
    assert told == [("assigned", "交办通知", "李红英")]
    assert lamp["notices"] == [] and elderly["notices"] == []


def test_handover_to_a_directory_unit_notifies_its_contacts(client):
    entry = direct(client, "drainage", "景湖花园3号楼化粪池外溢")
    party = token("party_org", PARTY)
    assert client.post(f"/v1/entries/{entry['id']}/actions/start", headers=party).status_code == 200
    r = act(client, entry["id"], "escalate", party, note="管网设计问题", department="县教育局")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "department"
    assert "名录" in r.json()["detail"]
    after = detail(client, entry["id"])
    assert after["state"] == "in_progress" and after["escalated_to"] is None and after["notices"] == []

    r = act(
        client,
        entry["id"],
        "escalate",
        party,
        note="管网设计问题，需住房保障中心出具整改意见",
        department="zhufang_baozhang",
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["escalated_to"]) == ("escalated", "县住房保障中心")
    assert [(n["kind"], n["to"]) for n in r.json()["notices"]] == [("handover", "住房保障中心业务股")]
    assert r.json()["timeline"][-1]["note"].startswith("转办至县住房保障中心")
    # The department now acts on it as the round trip describes.
    dept = token("department", "县住房保障中心")
    assert act(client, entry["id"], "progress", dept, note="已现场查看").status_code == 200


def test_handover_units_list_the_directory(client):
    r = client.get("/v1/handover-units/jinshan", headers=token("property_company"))
    assert r.status_code == 200, r.text
    units = {u["name"]: u for u in r.json()["items"]}
    assert units["县住房保障中心"]["party_label"] == "职能部门" and "drainage" in units["县住房保障中心"]["categories"]
    assert client.get("/v1/handover-units/xueyuan", headers=token("property_company")).status_code == 404


def test_a_session_escalating_a_matter_tells_the_department(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="景湖花园主干道路面塌陷",
        place=events.Place(compound="jinghuhuayuan"),
        kind="problem",
        category="road",
        level="yellow",
        route="deliberate",
        confidence=0.9,
        triaged_at=NOW,
    )
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", data, matter_id)
    res = events.Resolution(matter_id=matter_id, outcome="escalate", department="县城管局", reason="市政道路")
    concluded = events.SessionConcluded(session_id="ses_h", kind="fixed_day", concluded_at=NOW, resolutions=[res])
    feed(client, handlers.on_session_concluded, "session.concluded.v1", concluded, "ses_h")
    e = detail(client, service.entry_id_for(matter_id))
    assert (e["state"], e["escalated_to"]) == ("escalated", "县城管局")
    assert [(n["kind"], n["to"]) for n in e["notices"]] == [("handover", "城管局指挥中心")]
