"""Promises made at a session (承诺事项) on the ledger entry: recorded once, checked, and holding back 销号."""

# ruff: noqa: F811 - the `client` fixture is imported from test_ledger_actions and used as a parameter

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.contracts import events
from services.ledger import handlers, reminders, service
from tests.integration.test_ledger_actions import (  # noqa: F401 - fixtures
    NOW,
    PARTY,
    PROPERTY,
    act,
    client,
    feed,
    set_state,
    token,
    triaged,
)

pytestmark = pytest.mark.integration

DUE = NOW + dt.timedelta(days=20)


def promises() -> list[events.Commitment]:
    return [
        events.Commitment(
            id=f"cmt_{uuid.uuid4().hex[:12]}",
            text="物业承诺维修后恢复原样",
            owner_party="property_company",
            owner=PROPERTY,
            due=DUE,
        ),
        events.Commitment(
            id=f"cmt_{uuid.uuid4().hex[:12]}",
            text="居民承诺维修时不用下水",
            owner_party="resident_rep",
            owner="12号楼2单元居民",
            due=DUE,
        ),
    ]


def concluded(matter_id: str, commitments: list[events.Commitment]) -> events.SessionConcluded:
    res = events.Resolution(
        matter_id=matter_id,
        outcome="resolved",
        measures="物业重新铺设排水管，完工后恢复一楼门市",
        lead_party="property_company",
        lead_unit=PROPERTY,
        deadline=DUE,
        commitments=commitments,
    )
    return events.SessionConcluded(session_id="ses_site", kind="site_inspection", concluded_at=NOW, resolutions=[res])


def entry(client, entry_id: str) -> dict:
    r = client.get(f"/v1/entries/{entry_id}", headers=token("party_org", PARTY))
    assert r.status_code == 200, r.text
    return r.json()


def check(client, entry_id: str, cid: str, headers=None, **body):
    return client.post(
        f"/v1/entries/{entry_id}/commitments/{cid}/check", json=body, headers=headers or token("party_org", PARTY)
    )


def test_promises_are_tracked_and_the_entry_is_crossed_off_only_when_each_is_checked(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id, "deliberate"), matter_id)
    made = promises()
    data = concluded(matter_id, made)
    feed(client, handlers.on_session_concluded, "session.concluded.v1", data, "ses_site")
    feed(client, handlers.on_session_concluded, "session.concluded.v1", data, "ses_site")  # a redelivery
    entry_id = service.entry_id_for(matter_id)
    e = entry(client, entry_id)
    assert e["state"] == "assigned"
    assert [(c["text"], c["owner"], c["state"], c["state_label"]) for c in e["commitments"]] == [
        ("物业承诺维修后恢复原样", PROPERTY, "open", "待核验"),
        ("居民承诺维修时不用下水", "12号楼2单元居民", "open", "待核验"),
    ]
    assert dt.datetime.fromisoformat(e["commitments"][0]["due"]) == DUE and not e["commitments"][0]["overdue"]
    noted = [t["note"] for t in e["timeline"] if t["action"] == "commit"]
    assert len(noted) == 2 and "物业承诺维修后恢复原样" in noted[0] and "承诺方" in noted[0]

    set_state(client, entry_id, "evaluated")
    r = act(client, entry_id, "close", token("party_org", PARTY), note="销号")
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert "2项承诺未核验" in problem["detail"] and "居民承诺维修时不用下水" in problem["detail"]
    assert "commitment" in problem["detail_en"]
    assert [c["text"] for c in problem["open_commitments"]] == ["物业承诺维修后恢复原样", "居民承诺维修时不用下水"]

    kept, used = made[0].id, made[1].id
    assert check(client, entry_id, kept, headers=token("property_company"), result="kept", note="x").status_code == 403
    other = token("party_org", PARTY, community="xueyuan")
    assert check(client, entry_id, kept, headers=other, result="kept", note="x").status_code == 404
    assert check(client, entry_id, "cmt_nope", result="kept", note="x").status_code == 404
    assert check(client, entry_id, kept, result="kept", note="  ").status_code == 422
    assert check(client, entry_id, kept, result="maybe", note="x").status_code == 422
    r = check(client, entry_id, kept, result="kept", note="门市地面和装修已恢复，业主确认")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["state_label"], r.json()["checked_by"]) == (
        "kept",
        "已兑现",
        f"party_org_{PARTY}",
    )
    assert check(client, entry_id, kept, result="broken", note="again").status_code == 409

    r = act(client, entry_id, "close", token("party_org", PARTY), note="销号")
    assert r.status_code == 409 and "1项承诺未核验" in r.json()["detail"] and "物业承诺" not in r.json()["detail"]
    assert check(client, entry_id, used, result="broken", note="施工第二天有住户用水，已劝导").status_code == 200
    r = act(client, entry_id, "close", token("party_org", PARTY), note="销号")
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text
    e = entry(client, entry_id)
    assert [c["state"] for c in e["commitments"]] == ["kept", "broken"]
    checks = [t["note"] for t in e["timeline"] if t["action"] == "commit_check"]
    assert len(checks) == 2 and "未兑现" in checks[1]


def test_an_entry_without_promises_closes_as_before(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id, "deliberate"), matter_id)
    feed(client, handlers.on_session_concluded, "session.concluded.v1", concluded(matter_id, []), "ses_site")
    entry_id = service.entry_id_for(matter_id)
    assert entry(client, entry_id)["commitments"] == []
    set_state(client, entry_id, "evaluated")
    assert act(client, entry_id, "close", token("party_org", PARTY), note="销号").status_code == 200


def test_a_promise_past_its_due_time_is_brought_to_the_party_secretary_once(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id, "deliberate"), matter_id)
    made = promises()
    feed(client, handlers.on_session_concluded, "session.concluded.v1", concluded(matter_id, made), "ses_site")
    entry_id = service.entry_id_for(matter_id)
    r = check(client, entry_id, made[1].id, result="kept", note="施工期间无人用水")
    assert r.status_code == 200

    ctx = client.app.state.ctx
    later = DUE + dt.timedelta(days=1)
    client.portal.call(reminders.sweep, ctx.bus.uow, later)
    client.portal.call(reminders.sweep, ctx.bus.uow, later + dt.timedelta(hours=1))  # nothing twice
    e = entry(client, entry_id)
    due = [t["note"] for t in e["timeline"] if "承诺到期待核验" in (t["note"] or "")]
    assert len(due) == 1 and "物业承诺维修后恢复原样" in due[0]  # the kept one is not asked about
    asked = [(n["kind_label"], n["to"]) for n in e["notices"] if n["kind"] == "commitment_due"]
    assert asked == [("承诺到期提醒", "吴建华")]
