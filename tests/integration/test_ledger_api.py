"""The ledger's HTTP API with its real lifespan (RabbitMQ, Redis, a SQLite file)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from services.contracts import Envelope, events
from services.ledger import handlers
from services.ledger.app import spec
from services.runtime import auth
from services.runtime.service import create_app
from services.runtime.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_vhost(vhost, monkeypatch):
    """The app's bus declares and publishes in a private vhost, never in the default one `make run` uses."""
    monkeypatch.setenv("HALL_AMQP_URL", vhost)


NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    get_settings.cache_clear()
    with TestClient(create_app(spec())) as c:
        yield c
    get_settings.cache_clear()


def token(role: str, community: str = "jinshan", sub: str | None = None) -> dict[str, str]:
    t = auth.mint(sub=sub or f"{role}_1", role=role, communities=[community], unit="江西恒泰物业服务有限公司")
    return {"Authorization": f"Bearer {t}"}


def feed(client: TestClient, handler, type: str, data, subject: str) -> None:
    """Run one handler inside the app's event loop, as the consumer would."""
    ctx = client.app.state.ctx
    env = Envelope.new(type=type, source="/services/test", community="jinshan", subject=subject, data=data)

    async def go() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handler(uow, env, data)
            await uow.commit()

    client.portal.call(go)


def outbox(client: TestClient) -> list[Envelope]:
    ctx = client.app.state.ctx

    async def go() -> list[Envelope]:
        async with ctx.db.session() as s:
            t = ctx.bus.tables.outbox
            rows = (await s.exec(t.select().order_by(t.c.id))).all()
        return [Envelope.from_bytes(r.body) for r in rows]

    return client.portal.call(go)


def direct_entry(client: TestClient, matter_id: str = "mat_api_1") -> str:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="景湖花园5号楼楼道灯不亮",
        place=events.Place(compound="jinghuhuayuan", building="5"),
        kind="problem",
        category="lighting",
        level="green",
        route="direct",
        confidence=0.9,
        triaged_at=NOW,
    )
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", data, matter_id)
    r = client.get("/v1/entries", headers=token("party_org"))
    assert r.status_code == 200, r.text
    return next(e["id"] for e in r.json()["items"] if e["matter_id"] == matter_id)


def act(client: TestClient, entry_id: str, action: str, headers: dict, **body):
    return client.post(f"/v1/entries/{entry_id}/actions/{action}", json=body or None, headers=headers)


def test_start_progress_complete_emits_task_completed(client):
    eid = direct_entry(client)
    pc = token("property_company")
    r = act(client, eid, "start", pc)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "in_progress"
    r = act(client, eid, "progress", pc)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"
    r = act(client, eid, "progress", pc, note="已采购灯具", photos=["https://img.example/1.jpg"])
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    r = act(client, eid, "complete", pc, note="已更换全部灯具")
    body = r.json()
    assert r.status_code == 200 and body["state"] == "completed" and body["completed_at"]
    assert body["available_actions"] == [] and body["deadline_status"] == "done"
    assert [t["action"] for t in body["timeline"]] == ["register", "assign", "start", "progress", "complete"]
    assert body["timeline"][3]["actor"] == "property_company_1"
    assert body["timeline"][3]["photos"] == ["https://img.example/1.jpg"]
    types = [(e.type, e.subject) for e in outbox(client)]
    assert types == [
        ("task.assigned.v1", "mat_api_1"),
        ("task.progressed.v1", "mat_api_1"),
        ("task.progressed.v1", "mat_api_1"),
        ("task.completed.v1", "mat_api_1"),
    ]
    done = outbox(client)[-1]
    assert done.data["state"] == "completed" and done.data["actor"] == "property_company_1"
    figures = client.get("/v1/figures", params={"community": "jinshan"}, headers=token("party_org")).json()
    assert figures["entries"] == 1 and figures["completion_rate"] == 1.0 and figures["on_time_rate"] == 1.0


def test_close_before_evaluation_is_409_with_allowed_actions(client):
    eid = direct_entry(client)
    act(client, eid, "complete", token("property_company"), note="已修复")
    r = act(client, eid, "close", token("party_org"))
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["allowed"] == ["evaluate_satisfied", "evaluate_unsatisfied"]
    assert "evaluate_satisfied" in body["detail"] and body["state"] == "completed"
    assert client.get(f"/v1/entries/{eid}", headers=token("party_org")).json()["state"] == "completed"


def test_other_community_sees_nothing(client):
    eid = direct_entry(client)
    other = token("party_org", community="xueyuan")
    assert client.get(f"/v1/entries/{eid}", headers=other).status_code == 404
    assert act(client, eid, "start", token("property_company", community="xueyuan")).status_code == 404
    assert client.get("/v1/entries", headers=other).json()["items"] == []
    assert client.get("/v1/entries", params={"community": "jinshan"}, headers=other).status_code == 403
    assert client.get(f"/v1/entries/{eid}", headers=token("party_org")).json()["state"] == "assigned"


def test_only_party_org_closes(client):
    eid = direct_entry(client)
    act(client, eid, "complete", token("property_company"), note="已修复")
    evaluation = events.EvaluationRecorded(
        evaluation_id="evl_1",
        matter_id="mat_api_1",
        round=1,
        method="home_visit",
        rating="satisfied",
        household_ref="hh_1",
        round_outcome="satisfied",
        recorded_at=NOW,
    )
    feed(client, handlers.on_evaluation_recorded, "evaluation.recorded.v1", evaluation, "mat_api_1")
    r = act(client, eid, "close", token("property_company"))
    assert r.status_code == 403
    r = act(client, eid, "close", token("party_org"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "closed" and r.json()["closed_at"]
    closed = outbox(client)[-1]
    assert closed.type == "matter.closed.v1" and closed.data["entry_id"] == eid
    assert client.post(f"/v1/entries/{eid}/actions/close").status_code == 401
