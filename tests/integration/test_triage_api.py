"""Triage HTTP API with its lifespan running against the real broker and Redis."""

from __future__ import annotations

import datetime as dt
import uuid

import aio_pika
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.contracts import EVENTS_EXCHANGE, Envelope, events
from services.runtime.auth import mint
from services.runtime.service import create_app
from services.runtime.settings import get_settings
from services.triage import handlers
from services.triage.app import spec
from services.triage.models import Regrade
from tests.support import signed, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def client(hall_env, tmp_path, monkeypatch):
    """The triage app with lifespan (migrations, consumers, relay) on a private SQLite file and vhost."""
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'triage.db'}")
    get_settings.cache_clear()
    with TestClient(create_app(spec())) as c:
        c.portal.call(c.app.state.ctx.bus.wait_ready)
        yield c


def auth(
    role: str = "party_org", communities: tuple[str, ...] = ("jinshan",), sub: str = "u-party", name: str | None = None
) -> dict:
    return {"Authorization": f"Bearer {mint(sub=sub, role=role, communities=list(communities), name=name)}"}


def report_event(text: str, community: str = "jinshan", building: str = "3") -> tuple[Envelope, events.ReportReceived]:
    rid = f"rpt_{uuid.uuid4().hex[:12]}"
    data = events.ReportReceived(
        report_id=rid,
        tracking_code="ABCD2345",
        channel="miniprogram",
        channel_message_id=f"m-{rid}",
        text=text,
        place=events.Place(compound="jinghuhuayuan", building=building),
        received_at=dt.datetime.now(dt.UTC),
        reporter=events.MaskedReporter(ref=f"ref-{rid}"),
    )
    env = Envelope.new(
        type="report.received.v1", source="/services/intake", community=community, subject=rid, data=data
    )
    return env, data


def publish(c: TestClient, env: Envelope) -> None:
    """Publish an event to hall.events as another service's relay would."""

    async def _go() -> None:
        conn = await aio_pika.connect_robust(get_settings().amqp_url)
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(EVENTS_EXCHANGE)
            await ex.publish(
                aio_pika.Message(env.to_bytes(), message_id=env.id, headers=signed(env)), routing_key=env.type
            )

    c.portal.call(_go)


def seed(c: TestClient, text: str, community: str = "jinshan", building: str = "3") -> str:
    """File a report straight through the handler (no broker hop); return the matter id."""
    env, data = report_event(text, community, building)

    async def _go() -> None:
        async with c.app.state.ctx.bus.uow(cause=env) as uow:
            await handlers.on_report_received(uow, env, data)
            await uow.commit()

    c.portal.call(_go)
    r = c.get("/v1/matters", headers=auth(communities=(community,)))
    return next(m["id"] for m in r.json()["items"] if m["title"] == text)


def test_report_over_the_broker_becomes_a_matter_and_closes(client):
    env, data = report_event("3号楼电梯困人了，快来人")
    publish(client, env)
    h = auth()
    matters = wait_for(lambda: client.get("/v1/matters", headers=h).json()["items"])
    [m] = matters
    assert m["level"] == "red" and m["route"] == "deliberate" and m["level_label"] == "红"
    detail = client.get(f"/v1/matters/{m['id']}", headers=h).json()
    assert detail["report_ids"] == [data.report_id] and detail["reasons"]
    closed = events.MatterClosed(matter_id=m["id"], entry_id="ent_1", by="u", closed_at=dt.datetime.now(dt.UTC))
    publish(
        client,
        Envelope.new(
            type="matter.closed.v1", source="/services/ledger", community="jinshan", subject=m["id"], data=closed
        ),
    )
    wait_for(lambda: client.get(f"/v1/matters/{m['id']}", headers=h).json()["status"] == "closed")
    r = client.post(
        f"/v1/matters/{m['id']}/regrade", headers=h, json={"level": "yellow", "route": "direct", "reason": "已处理"}
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/matters", headers=h, params={"status": "closed"}).headers["X-Total-Count"] == "1"


def test_preview_grades_without_storing(client):
    r = client.post(
        "/v1/preview", headers=auth(), json={"text": "5号楼整栋楼停水三天了，老人没水喝", "channel": "hotline_12345"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "red" and body["route"] == "deliberate" and body["category"] == "utilities"
    assert body["reasons"] and len(body["reasons_en"]) == len(body["reasons"]) and all(body["reasons_en"])
    assert "Category: Utilities (words found: “停水”, “没水”)" in body["reasons_en"]
    r = client.post(
        "/v1/preview", headers=auth(communities=("xueyuan",)), json={"text": "下水主杠又堵了", "community": "xueyuan"}
    )
    assert r.status_code == 200 and r.json()["category"] == "drainage"
    assert client.post("/v1/preview", headers=auth(), json={"text": "x", "community": "xueyuan"}).status_code == 404
    assert client.post("/v1/preview", headers=auth(), json={"text": ""}).status_code == 422
    assert client.get("/v1/matters", headers=auth()).json()["items"] == []


def test_regrade_with_audit(client):
    mid = seed(client, "3号楼楼道灯坏了")
    h = auth()
    r = client.post(
        f"/v1/matters/{mid}/regrade", headers=h, json={"level": "red", "route": "deliberate", "reason": "x"}
    )
    assert r.status_code == 422
    r = client.post(
        f"/v1/matters/{mid}/regrade", headers=h, json={"level": "red", "route": "direct", "reason": "灯下有裸露电线"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "route"
    before = client.get(f"/v1/matters/{mid}", headers=h).json()
    assert len(before["reasons_en"]) == len(before["reasons"]) and before["reasons_en"][0].startswith("Category: ")
    r = client.post(
        f"/v1/matters/{mid}/regrade",
        headers=auth(name="王书记"),
        json={"level": "red", "route": "deliberate", "category": "safety_fire", "reason": "灯下有裸露电线"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["level"], body["category"], body["needs_review"]) == ("red", "safety_fire", False)
    # The staff line in both languages: by name and role, the change in words (never an id or a code).
    assert body["reasons"][-1].startswith("人工改判（王书记（社区党组织））：等级 黄→红，办理方式 直接办理→上会议事")
    assert body["reasons_en"][-1] == (
        "Staff regrade (王书记 (Party organisation)): Level Yellow→Red, Route Fix at once→Deliberate, "
        "Category Lighting→Fire and safety; reason: 灯下有裸露电线"
    )
    assert body["reasons_en"][0].endswith("(superseded by a staff regrade)")
    assert "u-party" not in " ".join(body["reasons_en"])
    assert body["regrades"][-1]["by"] == "u-party" and body["regrades"][-1]["before"]["level"] == "yellow"
    assert body["regrades"][-1]["reason_en"] == "灯下有裸露电线"  # the staff's own words, as typed

    async def _audit() -> list[Regrade]:
        async with client.app.state.ctx.db.session() as s:
            return list((await s.exec(select(Regrade).where(Regrade.matter_id == mid))).all())

    [audit] = client.portal.call(_audit)
    assert audit.reason == "灯下有裸露电线" and audit.after["level"] == "red"
    assert client.get("/v1/review", headers=h).json()["items"] == []


def test_tenancy_and_auth(client):
    mid = seed(client, "3号楼下水道堵了")
    assert client.get(f"/v1/matters/{mid}").status_code == 401
    assert client.get("/v1/matters").status_code == 401
    other = auth(communities=("xueyuan",), sub="u-xy")
    assert client.get(f"/v1/matters/{mid}", headers=other).status_code == 404
    assert client.get("/v1/matters", headers=other).json()["items"] == []
    assert client.get("/v1/matters", headers=other, params={"community": "jinshan"}).status_code == 403
    r = client.post(
        f"/v1/matters/{mid}/regrade", headers=other, json={"level": "red", "route": "deliberate", "reason": "越权"}
    )
    assert r.status_code == 404
    grid = auth(role="grid_worker")
    assert client.get(f"/v1/matters/{mid}", headers=grid).status_code == 200
    r = client.post(
        f"/v1/matters/{mid}/regrade", headers=grid, json={"level": "red", "route": "deliberate", "reason": "无权"}
    )
    assert r.status_code == 403
    county = auth(role="county_operator", communities=("*",), sub="u-county")
    assert [m["id"] for m in client.get("/v1/matters", headers=county).json()["items"]] == [mid]


def test_review_queue_oldest_first(client):
    first = seed(client, "3号楼好像有一点煤气味")
    second = seed(client, "5号楼好像有一点燃气味", building="5")
    h = auth()
    queue = [m["id"] for m in client.get("/v1/review", headers=h).json()["items"]]
    assert queue == [first, second]
    assert client.get("/v1/matters", headers=h, params={"needs_review": "true"}).headers["X-Total-Count"] == "2"


def test_review_confirmation_clears_the_flag_and_is_audited(client):
    mid = seed(client, "家里闻到一点煤气味，不知道要不要紧")
    h = auth()
    assert [m["id"] for m in client.get("/v1/review", headers=h).json()["items"]] == [mid]
    before = client.get(f"/v1/matters/{mid}", headers=h).json()
    assert before["needs_review"] and before["level"] == "red"
    r = client.post(f"/v1/matters/{mid}/review", headers=h, json={"accept": False})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "accept"
    other = auth(communities=("xueyuan",), sub="u-other")
    assert client.post(f"/v1/matters/{mid}/review", headers=other, json={"accept": True}).status_code in (403, 404)
    resident = auth(role="grid_worker", sub="u-grid")
    assert client.post(f"/v1/matters/{mid}/review", headers=resident, json={"accept": True}).status_code == 403
    r = client.post(f"/v1/matters/{mid}/review", headers=h, json={"accept": True, "note": "已上门核实"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert not after["needs_review"]
    assert (after["level"], after["route"], after["category"]) == (before["level"], before["route"], before["category"])
    [entry] = after["regrades"]
    assert entry["by"] == "u-party" and entry["reason"] == "确认原分级：已上门核实"
    assert entry["reason_en"] == "Grade confirmed as it was: 已上门核实"
    assert client.get("/v1/review", headers=h).json()["items"] == []
    assert client.post(f"/v1/matters/{mid}/review", headers=h, json={"accept": True}).status_code == 409
    assert client.post("/v1/matters/mat_nope/review", headers=h, json={"accept": True}).status_code == 404


def test_model_in_var_is_loaded_at_startup(hall_env, tmp_path, monkeypatch):
    from services.triage import grader, labelled
    from services.triage.model import train

    train(list(labelled.read_jsonl(labelled.TRAIN))[::8]).save(hall_env.var_dir / grader.MODEL_FILE)
    monkeypatch.setenv("TRIAGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'triage-model.db'}")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(spec())) as c:
            r = c.post("/v1/preview", headers=auth(), json={"text": "楼道里一股燃气味"})
            assert r.status_code == 200, r.text
            assert r.json()["level"] == "red" and any(x.startswith("模型依据") for x in r.json()["reasons"])
    finally:
        grader.set_model(None)


def test_a_matter_carries_the_earliest_12345_deadline_of_its_reports(client):
    from tests.integration.test_meeting_api import outbox

    text = "景湖花园3号楼下水道堵塞，污水漫到楼道"
    later = dt.datetime(2030, 3, 20, 10, 0, tzinfo=dt.UTC)
    earlier = dt.datetime(2030, 3, 13, 10, 0, tzinfo=dt.UTC)
    for due in (later, None, earlier):
        env, data = report_event(text)
        data = data.model_copy(update={"channel": "hotline_12345", "due_by": due})

        async def _go(env=env, data=data) -> None:
            async with client.app.state.ctx.bus.uow(cause=env) as uow:
                await handlers.on_report_received(uow, env, data)
                await uow.commit()

        client.portal.call(_go)
    sent = [events.MatterTriaged.model_validate(e.data) for e in outbox(client) if e.type == "matter.triaged.v1"]
    assert len({m.matter_id for m in sent}) == 1 and len(sent[-1].report_ids) == 3
    assert [m.due_by for m in sent] == [later, later, earlier]
