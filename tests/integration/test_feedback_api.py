"""Feedback's HTTP API against the running app: real RabbitMQ vhost, Redis and a SQLite file."""

from __future__ import annotations

import datetime as dt

import aio_pika
import pytest
from fastapi.testclient import TestClient

from services.contracts import EVENTS_EXCHANGE, Envelope, events
from services.feedback import handlers
from services.feedback.app import spec
from services.runtime.auth import mint
from services.runtime.service import create_app
from tests.support import signed, wait_for

pytestmark = pytest.mark.integration

COMPLETED_AT = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)


def completed(matter: str, *, households: int = 6, community: str = "jinshan", type: str = "entry.completed.v1"):
    """An entry.completed.v1 envelope and payload (or the same under its old name, task.completed.v1)."""
    data = events.EntryEvent(
        entry_id=f"ent_{matter}",
        matter_id=matter,
        state="completed",
        level="yellow",
        category="drainage",
        actor="property-li",
        households=households,
        at=COMPLETED_AT,
    )
    env = Envelope.new(type=type, source="/services/ledger", community=community, subject=matter, data=data)
    return env, data


@pytest.fixture
def client(hall_env, tmp_path, monkeypatch):
    """The feedback app with its lifespan running (migrations, consumers, relay)."""
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}")
    app = create_app(spec())
    with TestClient(app) as c:
        yield c


def seed(client: TestClient, matter: str, **kw) -> None:
    """Plan a revisit directly through the handler, in the app's own event loop."""
    ctx = client.app.state.ctx
    env, data = completed(matter, **kw)

    async def run() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handlers.on_entry_completed(uow, env, data)
            await uow.commit()

    client.portal.call(run)


def close_matter(client: TestClient, matter: str, community: str = "jinshan") -> None:
    """Cross the matter off (matter.closed.v1) through the handler."""
    ctx = client.app.state.ctx
    data = events.MatterClosed(matter_id=matter, entry_id=f"ent_{matter}", by="party-1", closed_at=COMPLETED_AT)
    env = Envelope.new(
        type="matter.closed.v1", source="/services/ledger", community=community, subject=matter, data=data
    )

    async def run() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handlers.on_matter_closed(uow, env, data)
            await uow.commit()

    client.portal.call(run)


def auth(role: str = "grid_worker", communities: tuple[str, ...] = ("jinshan",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(sub=f'{role}-1', role=role, communities=list(communities))}"}


def vote(client: TestClient, matter: str, headers: dict | None = None, **kw):
    body = {
        "household": "金泰和庄12-2-301",
        "rating": "satisfied",
        "method": "home_visit",
        "evidence": {"signature": "sig/2025/06/abc.png"},
        **kw,
    }
    return client.post(f"/v1/matters/{matter}/evaluations", json=body, headers=headers or auth())


def test_requests_without_a_token_get_401(client):
    for resp in (
        client.get("/v1/revisits"),
        client.get("/v1/matters/mat_1/evaluations"),
        client.post("/v1/matters/mat_1/evaluations", json={}),
        client.get("/v1/revisits", headers={"Authorization": "Bearer not-a-token"}),
    ):
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")


# The old name (task.completed.v1, from a ledger of the previous release or still queued) is consumed like the new.
@pytest.mark.parametrize("type_", ["entry.completed.v1", "task.completed.v1"])
def test_completion_over_the_broker_plans_a_revisit(client, type_):
    env, _ = completed("mat_bus", type=type_)

    async def publish() -> None:
        conn = await client.app.state.ctx.bus.get_connection()
        channel = await conn.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(env.to_bytes(), message_id=env.id, headers=signed(env)), routing_key=env.type
        )
        await channel.close()

    client.portal.call(publish)
    found = wait_for(
        lambda: client.get("/v1/revisits", params={"status": "open"}, headers=auth()).json()["items"],
        what="the revisit planned from the bus",
    )
    assert [r["matter_id"] for r in found] == ["mat_bus"]
    assert found[0]["methods"] == ["questionnaire"] and found[0]["status_label"] == "待回访"


def test_record_and_read_evaluations(client):
    seed(client, "mat_1")
    resp = vote(client, "mat_1", solved="solved", comment="修好了，谢谢")
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["round_outcome"] == "pending" and out["household_ref"].startswith("hh_")
    got = client.get("/v1/matters/mat_1/evaluations", headers=auth("party_org")).json()
    assert got["round"] == 1 and got["rate"] == 1.0 and got["outcome"] == "pending"
    assert [e["household_ref"] for e in got["evaluations"]] == [out["household_ref"]]
    assert "金泰和庄12-2-301" not in str(got)
    # The round's reasons in English words too, line for line (the Revisits drawer shows them in English mode).
    assert len(got["reasons_en"]) == len(got["reasons"]) == 1, got["reasons"]
    assert got["reasons_en"][0].startswith("1 household evaluated so far, fewer than the "), got["reasons_en"]
    revisits = client.get("/v1/revisits", params={"community": "jinshan"}, headers=auth("county_operator", ("*",)))
    assert [r["matter_id"] for r in revisits.json()["items"]] == ["mat_1"]


def test_second_voice_of_the_same_household_is_409(client):
    seed(client, "mat_1")
    assert vote(client, "mat_1").status_code == 201
    resp = vote(client, "mat_1", household=" 金泰和庄12-2-301", rating="unsatisfied")
    assert resp.status_code == 409
    body = resp.json()
    assert "一户一票" in body["detail"] and body["errors"][0]["field"] == "household"


def test_evaluation_without_a_revisit_is_404_or_409(client):
    resp = vote(client, "mat_nowhere")  # unknown: answered like another community's matter
    assert resp.status_code == 404 and resp.json()["detail"] == "未找到该事项的回访记录"
    seed(client, "mat_1")
    close_matter(client, "mat_1")
    resp = vote(client, "mat_1")  # known, but crossed off: no open revisit
    assert resp.status_code == 409
    assert resp.json()["detail"] == "该事项尚未办结或已销号"


def test_bad_rating_is_422_naming_the_field(client):
    seed(client, "mat_1")
    resp = vote(client, "mat_1", rating="great")
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["rating"]
    resp = vote(client, "mat_1", comment="长" * 501)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "comment"


def test_tenancy_and_roles(client):
    seed(client, "mat_1")
    outsider = auth("grid_worker", ("xueyuan",))
    assert vote(client, "mat_1", headers=outsider).status_code == 404
    assert client.get("/v1/matters/mat_1/evaluations", headers=outsider).status_code == 404
    assert client.get("/v1/revisits", params={"community": "jinshan"}, headers=outsider).status_code == 403
    assert client.get("/v1/revisits", headers=outsider).json()["items"] == []
    assert vote(client, "mat_1", headers=auth("property_company")).status_code == 403  # may not record
    assert client.get("/v1/revisits", headers=auth("property_company")).status_code == 403  # may not read
    assert vote(client, "mat_1").status_code == 201  # jinshan's own grid worker may


def test_a_household_typed_differently_is_still_one_voice(client):
    """Case, full-width forms, invisible characters and separators do not make a second voter."""
    seed(client, "mat_hh", households=30)
    assert vote(client, "mat_hh", household="JTH-3-1-101").status_code == 201
    for again in ("jth-3-1-101", "jth-3-1-101\u200b", "ＪＴＨ－３－１－１０１", "jth 3/1/101"):
        resp = vote(client, "mat_hh", household=again, rating="unsatisfied")
        assert resp.status_code == 409, (again, resp.text)
    # Keyed to the directory's room: the compound's name, alias or code, with or without 号楼/单元/室.
    assert vote(client, "mat_hh", household="景湖花园3号楼1单元101室").status_code == 201
    for again in ("景湖小区3-1-101", "jinghuhuayuan 3-1-0101", "景湖花园小区 3栋1单元101"):
        assert vote(client, "mat_hh", household=again).status_code == 409, again
    assert vote(client, "mat_hh", household="景湖花园3-2-101").status_code == 201  # another unit, another home
