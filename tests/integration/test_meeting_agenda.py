"""The convenor sets the agenda; everyone at the table states a position; promises travel to the ledger."""

# ruff: noqa: F811 - the `client` fixture is imported from test_meeting_api and used as a parameter

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import events
from services.meeting import planner, service
from tests.integration.test_meeting_api import (  # noqa: F401 - fixtures
    NOW,
    QUORUM,
    _clock,
    add_waiting,
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


def agenda(c, sid: str) -> dict:
    return c.get(f"/v1/sessions/{sid}", headers=token()).json()


def change(c, sid: str, headers=None, **body):
    return c.post(f"/v1/sessions/{sid}/agenda", json=body, headers=headers or token())


def plan(c) -> int:
    return c.portal.call(service.plan_all, c.app.state.ctx.bus.uow)


def test_convenor_adds_moves_and_removes_topics_every_change_audited(client):
    seed(client, triaged("mat_a1"), triaged("mat_a2"), triaged("mat_a3"))
    sid = fixed_session(client)["id"]
    before = agenda(client, sid)
    # The planner's proposal is the starting point, and is itself on the record.
    assert before["agenda_set_by"] is None
    assert [(c["action"], c["actor"], c["matter_id"]) for c in before["agenda_changes"]] == [
        ("propose", "planner", "mat_a1"),
        ("propose", "planner", "mat_a2"),
        ("propose", "planner", "mat_a3"),
    ]
    assert {a["added_by"] for a in before["agenda"]} == {"planner"}

    add_waiting(client, "mat_w1")
    r = change(client, sid, op="add", matter_id="mat_w1", position=1)
    assert r.status_code == 200, r.text
    assert [a["matter_id"] for a in r.json()["agenda"]] == ["mat_w1", "mat_a1", "mat_a2", "mat_a3"]
    assert r.json()["agenda_set_by"] == "party_org-tester" and r.json()["agenda"][0]["added_by"] == "party_org-tester"

    r = change(client, sid, op="move", matter_id="mat_a3", position=2)
    assert [a["matter_id"] for a in r.json()["agenda"]] == ["mat_w1", "mat_a3", "mat_a1", "mat_a2"]
    assert r.json()["agenda"][1]["position"] == 2

    assert change(client, sid, op="remove", matter_id="mat_a2").status_code == 422  # a reason is required
    r = change(client, sid, op="remove", matter_id="mat_a2", reason="待住建局测绘后再议")
    assert r.status_code == 200, r.text
    assert [a["matter_id"] for a in r.json()["agenda"]] == ["mat_w1", "mat_a3", "mat_a1"]
    removed = matter(client, "mat_a2")
    assert (removed.state, removed.session_id, removed.carried_over) == ("queued", None, 0)

    r = client.put(
        f"/v1/sessions/{sid}/agenda",
        json={"matter_ids": ["mat_a1", "mat_a3", "mat_w1"], "reason": "党委班子研究确定"},
        headers=token(),
    )
    assert r.status_code == 200, r.text
    assert [a["matter_id"] for a in r.json()["agenda"]] == ["mat_a1", "mat_a3", "mat_w1"]
    bad = client.put(f"/v1/sessions/{sid}/agenda", json={"matter_ids": ["mat_a1", "mat_a1"]}, headers=token())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "matter_ids"

    # The agenda is the convenor's now: the planner does not put the removed matter back.
    plan(client)
    assert "mat_a2" not in [a["matter_id"] for a in agenda(client, sid)["agenda"]]
    assert matter(client, "mat_a2").state == "queued"

    changes = agenda(client, sid)["agenda_changes"]
    staff = [(c["action"], c["matter_id"], c["from_position"], c["to_position"]) for c in changes[3:]]
    assert staff == [
        ("add", "mat_w1", None, 1),
        ("move", "mat_a3", 4, 2),
        ("remove", "mat_a2", 4, None),
        ("move", "mat_a1", 3, 1),
        ("move", "mat_w1", 1, 3),
    ]
    remove = next(c for c in changes if c["action"] == "remove")
    assert remove["reason"] == "待住建局测绘后再议" and remove["action_label"] == "撤下议题"
    assert remove["actor"] == "party_org-tester" and remove["title"].startswith("mat_a2")
    assert all(dt.datetime.fromisoformat(c["at"]) for c in changes)

    # Invitees and the ledger hear the new agenda, in the new order.
    last = [e for e in outbox(client) if e.type == "session.scheduled.v1" and e.subject == sid][-1]
    assert last.data["agenda"] == ["mat_a1", "mat_a3", "mat_w1"]


def test_agenda_changes_are_refused_when_they_do_not_make_sense(client, monkeypatch):
    seed(client, triaged("mat_b1"), triaged("mat_b2", level="red"))
    sid = fixed_session(client)["id"]
    add_waiting(client, "mat_b3")
    assert change(client, sid, headers=token("resident_rep"), op="add", matter_id="mat_b3").status_code == 403
    other = token(communities=("jinshan",))
    assert change(client, sid, headers=other, op="add", matter_id="mat_b3").status_code == 404
    r = change(client, sid, op="add", matter_id="mat_b1")
    assert r.status_code == 409 and "已在本次议程" in r.json()["detail"]
    r = change(client, sid, op="add", matter_id="mat_b2")  # red: on its emergency session
    assert r.status_code == 409
    assert change(client, sid, op="add", matter_id="mat_nope").status_code == 404
    assert change(client, sid, op="move", matter_id="mat_b1").status_code == 422
    assert change(client, sid, op="bogus", matter_id="mat_b1").status_code == 422
    # Nothing above changed the agenda or marked it set.
    detail = agenda(client, sid)
    assert [a["matter_id"] for a in detail["agenda"]] == ["mat_b1"] and detail["agenda_set_by"] is None
    # Once the session has begun, its agenda is fixed.
    started = NOW + dt.timedelta(days=30)
    monkeypatch.setattr(planner, "utcnow", lambda: started.astimezone(dt.UTC))
    r = change(client, sid, op="add", matter_id="mat_b3")
    assert r.status_code == 409 and "已开始" in r.json()["detail"]


def test_a_pinned_topic_goes_on_whatever_the_room_and_returns_first_after_adjournment(client, monkeypatch):
    seed(client, *(triaged(f"mat_p{i}") for i in range(6)))  # xueyuan takes 6 topics: the session is full
    sid = fixed_session(client)["id"]
    add_waiting(client, "mat_pin")
    add_waiting(client, "mat_other")
    r = change(client, sid, op="pin", matter_id="mat_pin", reason="党委确定为本月主题")
    assert r.status_code == 200, r.text
    assert len(r.json()["agenda"]) == 7 and r.json()["agenda"][-1] == {**r.json()["agenda"][-1], "pinned": True}
    assert [c["action"] for c in r.json()["agenda_changes"]][-2:] == ["add", "pin"]

    # Adjourned without quorum: the pinned topic heads the queue and the next fixed day takes it first.
    short = {k: v for k, v in QUORUM.items() if k != "owners_committee"}
    on_the_day(monkeypatch, client, sid)
    r = client.post(f"/v1/sessions/{sid}/conclude", json={"attendance": short}, headers=token())
    assert r.json()["status"] == "adjourned"
    queue = client.get("/v1/queue", headers=token()).json()["items"]
    assert queue[0]["matter_id"] == "mat_pin" and queue[0]["pinned"] is True
    plan(client)
    upcoming = client.get("/v1/sessions", params={"status": "scheduled", "kind": "fixed_day"}, headers=token()).json()[
        "items"
    ]
    nxt = agenda(client, upcoming[0]["id"])
    assert nxt["agenda"][0]["matter_id"] == "mat_pin"
    # Unpinning is recorded; once deliberated, the pin is spent.
    r = change(client, nxt["id"], op="unpin", matter_id="mat_pin")
    assert r.status_code == 200 and r.json()["agenda"][0]["pinned"] is False
    assert r.json()["agenda_changes"][-1]["action_label"] == "取消本月议题"


WORKED_DEPARTMENTS = [{"department": "zhufang_baozhang", "names": ["住房保障中心 吴工"]}]
WORKED_CONCERNED = [{"label": "一楼门市业主", "people": 2}]


def worked_resolution(matter_id: str, due: str = "2025-04-10T18:00:00+08:00", **over) -> dict:
    return resolved(
        matter_id,
        stances=[
            {"by_kind": "property_company", "stance": "support", "note": "重铺排水管，门市全额恢复"},
            {"by_kind": "department", "by": "县住房保障中心", "stance": "support", "note": "确认设计坡度不足"},
            {"by_kind": "concerned", "by": "一楼门市业主", "stance": "conditional", "note": "店面恢复原样才同意"},
        ],
        commitments=[
            {
                "text": "物业承诺维修后恢复原样",
                "owner_party": "property_company",
                "owner": "江西锦程物业服务有限公司",
                "due": due,
            },
            {"text": "居民承诺维修时不用下水", "owner_party": "resident_rep", "owner": "12号楼2单元居民", "due": due},
        ],
        **over,
    )


def test_everyone_at_the_table_with_positions_and_commitments_in_the_event(client, monkeypatch):
    seed(client, triaged("mat_w"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    body = {
        "attendance": QUORUM,
        "departments": WORKED_DEPARTMENTS,
        "concerned": WORKED_CONCERNED,
        "resolutions": [worked_resolution("mat_w")],
    }
    r = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert r.status_code == 200, r.text
    (env,) = [e for e in outbox(client) if e.type == "session.concluded.v1"]
    data = events.SessionConcluded.model_validate(env.data)
    assert [(d.code, d.name, d.names) for d in data.departments] == [
        ("zhufang_baozhang", "县住房保障中心", ["住房保障中心 吴工"])
    ]
    assert [(c.label, c.people) for c in data.concerned] == [("一楼门市业主", 2)]
    (res,) = data.resolutions
    assert [(s.by_kind, s.by, s.stance) for s in res.stances] == [
        ("property_company", "property_company", "support"),
        ("department", "县住房保障中心", "support"),
        ("concerned", "一楼门市业主", "conditional"),
    ]
    assert [(c.text, c.owner) for c in res.commitments] == [
        ("物业承诺维修后恢复原样", "江西锦程物业服务有限公司"),
        ("居民承诺维修时不用下水", "12号楼2单元居民"),
    ]
    assert res.commitments[0].due == dt.datetime(2025, 4, 10, 10, 0, tzinfo=dt.UTC)
    assert len({c.id for c in res.commitments}) == 2
    minutes = agenda(client, sid)["minutes"]
    assert minutes["concerned"] == [{"label": "一楼门市业主", "people": 2}]
    assert minutes["departments"][0]["name"] == "县住房保障中心"
    assert minutes["resolutions"][0]["commitments"][1]["text"] == "居民承诺维修时不用下水"


def test_positions_and_promises_are_checked_and_nothing_is_stored_on_error(client, monkeypatch):
    seed(client, triaged("mat_e1"), triaged("mat_e2"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    url = f"/v1/sessions/{sid}/conclude"
    base = {"attendance": QUORUM, "departments": WORKED_DEPARTMENTS, "concerned": WORKED_CONCERNED}
    deferred = {"matter_id": "mat_e2", "outcome": "deferred", "reason": "待测绘"}
    cases = [
        ({**base, "departments": [{"department": "县教育局"}]}, "departments[0].department"),
        ({**base, "concerned": []}, "resolutions[0].stances[2].by"),
        ({**base, "departments": []}, "resolutions[0].stances[1].by"),
        ({**base, "resolutions": [worked_resolution("mat_e1", due="2025-03-01T18:00:00+08:00"), deferred]}, None),
    ]
    for body, field in cases:
        body = {"resolutions": [worked_resolution("mat_e1"), deferred], **body}
        r = client.post(url, json=body, headers=token())
        assert r.status_code == 422, r.text
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.json()
        else:
            assert r.json()["errors"][0]["field"].endswith(".due") and "期限" in r.json()["detail"]
    promise = worked_resolution("mat_e1")["commitments"][:1]
    r = client.post(url, json={**base, "resolutions": [resolved("mat_e1"), {**deferred, "commitments": promise}]})
    assert r.status_code == 401
    r = client.post(
        url,
        json={**base, "resolutions": [resolved("mat_e1"), {**deferred, "commitments": promise}]},
        headers=token(),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolutions[1].commitments"
    assert agenda(client, sid)["status"] == "scheduled" and matter(client, "mat_e1").state == "scheduled"
    assert not [e for e in outbox(client) if e.type == "session.concluded.v1"]


def test_departments_and_parties_concerned_do_not_make_the_quorum(client, monkeypatch):
    seed(client, triaged("mat_qq"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    attendance = {k: v for k, v in QUORUM.items() if k != "partner_unit"}
    body = {
        "attendance": attendance,
        "departments": WORKED_DEPARTMENTS,
        "concerned": WORKED_CONCERNED,
        "resolutions": [resolved("mat_qq")],
    }
    r = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert r.json()["status"] == "adjourned" and r.json()["missing_parties"] == ["partner_unit"]
    assert agenda(client, sid)["minutes"]["departments"][0]["code"] == "zhufang_baozhang"


def test_a_session_escalates_only_to_a_unit_of_the_directory(client, monkeypatch):
    seed(client, triaged("mat_x"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    url = f"/v1/sessions/{sid}/conclude"
    escalate = {"matter_id": "mat_x", "outcome": "escalate", "department": "县教育局"}
    r = client.post(url, json={"attendance": QUORUM, "resolutions": [escalate]}, headers=token())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolutions[0].department"
    escalate["department"] = "zhufang_baozhang"
    r = client.post(url, json={"attendance": QUORUM, "resolutions": [escalate]}, headers=token())
    assert r.status_code == 200, r.text
    (env,) = [e for e in outbox(client) if e.type == "session.concluded.v1"]
    assert env.data["resolutions"][0]["department"] == "县住房保障中心"
