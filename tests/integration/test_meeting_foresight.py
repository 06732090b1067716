"""未诉先办 end to end: proposals from the history over HTTP, accept/dismiss audited, the ledger learns over AMQP."""

# ruff: noqa: F811 - fixtures are imported from test_meeting_api and used as parameters

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import Envelope, events
from services.meeting import domain, planner
from services.meeting.models import QueuedMatter
from tests.integration.test_meeting_api import (  # noqa: F401 - fixtures
    _clock,
    _own_vhost,
    client,
    matter,
    outbox,
    publish_over_broker,
    token,
)

pytestmark = pytest.mark.integration

MAY = dt.datetime(2027, 5, 10, 10, 0, tzinfo=domain.TZ)


def history(c, rows) -> None:
    """Matters of past years, as meeting keeps them (resolved or fixed directly)."""
    ctx = c.app.state.ctx

    async def run():
        async with ctx.db.session() as s:
            for mid, on, building, category, state in rows:
                at = dt.datetime.fromisoformat(on).replace(tzinfo=domain.TZ).astimezone(dt.UTC)
                s.add(
                    QueuedMatter(
                        matter_id=mid,
                        community="xueyuan",
                        compound="jintaihezhuang",
                        building=building,
                        category=category,
                        level="yellow",
                        route="deliberate",
                        title="下水道堵塞",
                        queued_at=at,
                        updated_at=at,
                        state=state,
                    )
                )
            await s.commit()

    c.portal.call(run)


def test_drains_before_the_plum_rains_are_proposed_accepted_and_put_on_the_agenda(client, monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: MAY.astimezone(dt.UTC))
    history(
        client,
        [
            ("mat_h1", "2025-06-12T09:00", "12", "drainage", "resolved"),
            ("mat_h2", "2026-06-03T09:00", "12", "drainage", "direct"),
            ("mat_h3", "2026-07-01T09:00", "12", "drainage", "resolved"),
            ("mat_h4", "2026-02-01T09:00", "3", "parking", "resolved"),
            ("mat_h5", "2025-06-01T09:00", "3", "parking", "resolved"),
        ],
    )
    headers = token()
    assert (
        client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=token("grid_worker")).status_code
        == 403
    )
    r = client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=headers)
    assert r.status_code == 200, r.text
    (p,) = r.json()["items"]  # parking in two different months is no season and no recurrence
    assert (p["month"], p["kind_label"], p["season"], p["count"], p["status_label"]) == (
        "2027-06",
        "季节性",
        "梅雨季",
        3,
        "待研究",
    )
    assert p["evidence_zh"].startswith(
        "金泰和庄12号楼排水问题：2025年6月12日、2026年6月3日、2026年7月1日均有反映（2年共3件）"
    )
    assert p["evidence_en"] == (
        "Drainage at 金泰和庄 Building 12: reported on 12 June 2025, 3 June 2026 and 1 July 2026 "
        "(3 matters in 2 years); it comes back every plum-rain season. Check and deal with it before June 2027."
    )
    # The hourly job finds the same problem again: still one proposal.
    again = client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=headers).json()
    assert again["total"] == 1
    assert (
        client.get("/v1/foresight", params={"community": "jinshan"}, headers=token(communities=("jinshan",))).json()[
            "total"
        ]
        == 0
    )

    # Another community's staff neither see nor decide it.
    other = token(communities=("jinshan",))
    assert client.post(f"/v1/foresight/{p['id']}/accept", json={}, headers=other).status_code == 404
    assert client.post(f"/v1/foresight/{p['id']}/dismiss", json={"reason": "x"}, headers=other).status_code == 404
    assert client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=other).status_code in (403, 404)
    r = client.post(f"/v1/foresight/{p['id']}/accept", json={"reason": "党委研究：汛前先疏通主管"}, headers=headers)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["decided_by"], done["reason"]) == (
        "accepted",
        "party_org-tester",
        "党委研究：汛前先疏通主管",
    )
    topic = matter(client, done["matter_id"])
    assert topic.pinned and topic.state == "scheduled" and topic.session_id == done["session_id"]
    assert topic.title == "未诉先办：金泰和庄12号楼排水问题（季节性）"
    detail = client.get(f"/v1/sessions/{done['session_id']}", headers=headers).json()
    assert detail["kind"] == "fixed_day" and [a["matter_id"] for a in detail["agenda"]] == [done["matter_id"]]
    (ev,) = [e for e in outbox(client) if e.type == "matter.foreseen.v1"]
    assert ev.subject == done["matter_id"] and "梅雨季" in ev.data["evidence"]
    # Decided once: a second decision is 409; dismissing needs a reason.
    assert client.post(f"/v1/foresight/{p['id']}/dismiss", json={"reason": "x"}, headers=headers).status_code == 409
    assert client.post(f"/v1/foresight/{p['id']}/dismiss", json={}, headers=headers).status_code == 422
    # The accepted topic now waits for its session: the problem is not proposed again meanwhile.
    assert client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=headers).json()["total"] == 1


def test_a_dismissed_problem_stays_dismissed_for_the_month(client, monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: MAY.astimezone(dt.UTC))
    history(
        client,
        [
            ("mat_d1", "2025-06-12T09:00", "12", "drainage", "resolved"),
            ("mat_d2", "2026-06-03T09:00", "12", "drainage", "resolved"),
        ],
    )
    headers = token()
    (p,) = client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=headers).json()["items"]
    r = client.post(f"/v1/foresight/{p['id']}/dismiss", json={"reason": "主管已于今年3月改造"}, headers=headers)
    assert r.status_code == 200 and r.json()["status_label"] == "不列入"
    items = client.post("/v1/foresight/run", params={"community": "xueyuan"}, headers=headers).json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(p["id"], "dismissed")]
    assert client.get("/v1/foresight", params={"status": "proposed"}, headers=headers).json()["total"] == 0


def test_the_ledger_learns_the_topic_over_the_broker_and_its_resolution_opens_an_entry(tmp_path, monkeypatch, vhost):
    from fastapi.testclient import TestClient

    from services.ledger.app import spec
    from services.runtime.service import create_app
    from services.runtime.settings import get_settings
    from tests.integration.test_ledger_api import token as ledger_token
    from tests.support import wait_for

    monkeypatch.setenv("HALL_AMQP_URL", vhost)
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    get_settings.cache_clear()
    now = dt.datetime.now(dt.UTC)
    mid = "mat_fs_0123456789abcdef01234567"
    seen = events.MatterForeseen(
        matter_id=mid,
        title="未诉先办：景湖花园3号楼排水问题（季节性）",
        place=events.Place(compound="jinghuhuayuan", building="3"),
        category="drainage",
        evidence="2025年6月、2026年6月均有反映",
        accepted_by="wu",
        accepted_at=now,
    )
    resolved = events.SessionConcluded(
        session_id="ses_fs",
        kind="fixed_day",
        concluded_at=now,
        attendance={},
        resolutions=[
            events.Resolution(
                matter_id=mid,
                outcome="resolved",
                measures="汛前疏通主管并加装检查井",
                lead_party="property_company",
                lead_unit="江西恒泰物业服务有限公司",
                deadline=now + dt.timedelta(days=20),
            )
        ],
    )
    with TestClient(create_app(spec())) as c:
        for type_, data, subject, source in (
            ("matter.foreseen.v1", seen, mid, "/services/meeting"),
            ("session.concluded.v1", resolved, "ses_fs", "/services/meeting"),
        ):
            env = Envelope.new(type=type_, source=source, community="jinshan", subject=subject, data=data)
            publish_over_broker(c, env)

        def entry():
            items = c.get("/v1/entries", headers=ledger_token("party_org")).json()["items"]
            return next((e for e in items if e["matter_id"] == mid), None)

        found = wait_for(entry, timeout=30)
        assert found["title"] == "未诉先办：景湖花园3号楼排水问题（季节性）" and found["state"] == "assigned"
    get_settings.cache_clear()
