"""Intake HTTP API with its lifespan running against the real broker and Redis."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import aio_pika
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.contracts import CHANNELS_EXCHANGE, EVENTS_EXCHANGE, Envelope, events
from services.intake import domain, handlers
from services.intake import service as intake_service
from services.intake.app import create
from services.intake.models import ApiKey
from services.runtime.auth import mint
from services.runtime.settings import REPO_ROOT, get_settings
from tests.support import consumer_count, readable, signed, wait_for

pytestmark = pytest.mark.integration
CHANNELS = "intake.channels"  # the queue of channel adapters' messages

PROBLEM = "application/problem+json"


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"


@pytest.fixture
def client(hall_env, db_url, monkeypatch):
    """The intake app with lifespan (migrations, consumers, relay) on a private SQLite file and vhost."""
    monkeypatch.setenv("INTAKE_DATABASE_URL", db_url)
    monkeypatch.setenv("HALL_RATELIMIT_PREFIX", f"hall:test:{uuid.uuid4().hex}")  # no counts shared between tests
    monkeypatch.setattr(intake_service, "_vault", None)  # PII keys of this test's var dir
    get_settings.cache_clear()
    with TestClient(create()) as c:
        yield c


def auth(communities: tuple[str, ...] = ("xueyuan",), role: str = "party_org", sub: str = "u-staff") -> dict:
    return {"Authorization": f"Bearer {mint(sub=sub, role=role, communities=list(communities))}"}


COUNTY = {"role": "county_operator", "communities": ("*",), "sub": "u-county"}


def body(**over) -> dict:
    base = {
        "community": "xueyuan",
        "channel": "counter",
        "text": "金泰和庄12号楼2单元下水道又堵了，一楼门市进水",
        "name": "刘秀英",
        "phone": "13800002031",
        "room": "301",
    }
    return base | over


def all_reports(c: TestClient) -> list[dict]:
    r = c.get("/v1/reports", params={"limit": 500}, headers=auth(**COUNTY))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def assert_problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    assert doc["status"] == status and doc["title"] and doc["detail"] and doc["detail_en"]
    if field is not None:
        err = next(e for e in doc["errors"] if e["field"] == field)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message"]), err  # Chinese first
        assert re.match(r"[A-Z][a-z]+", err["message_en"]), err  # English alongside
    return doc


def test_staff_submits_a_report_and_the_same_message_is_not_stored_twice(client):
    r = client.post("/v1/reports", json=body(channel_message_id="counter-0001"), headers=auth())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] is True and out["report_id"].startswith("rpt_")
    code = out["tracking_code"]
    assert len(code) == 8 and set(code) <= set(domain.TRACKING_ALPHABET)

    again = client.post("/v1/reports", json=body(channel_message_id="counter-0001"), headers=auth())
    assert again.status_code == 201, again.text
    assert again.json() == {"report_id": out["report_id"], "tracking_code": code, "created": False}

    [row] = all_reports(client)
    assert row["id"] == out["report_id"] and row["community"] == "xueyuan" and row["status"] == "received"
    assert (row["compound"], row["building"], row["unit"]) == ("jintaihezhuang", "12", "2")
    assert row["reporter"]["name"] == "刘**" and row["reporter"]["phone"] == "138****2031"

    one = client.get(f"/v1/reports/{out['report_id']}", headers=auth())
    assert one.status_code == 200 and one.json()["tracking_code"] == code


def test_reports_without_a_message_id_are_each_new_and_requests_are_counted_by_route(client):
    first = client.post("/v1/reports", json=body(), headers=auth())
    second = client.post("/v1/reports", json=body(), headers=auth())
    assert first.status_code == second.status_code == 201
    assert first.json()["created"] and second.json()["created"]
    assert first.json()["report_id"] != second.json()["report_id"]
    assert len(all_reports(client)) == 2
    text = client.get("/metrics").text
    line = next(
        x
        for x in text.splitlines()
        if x.startswith("hall_http_requests_total{")
        and "/v1/reports" in x
        and 'method="POST"' in x
        and 'status="201"' in x
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2


def test_tracking_code_lookup_is_public_and_anonymous(client):
    text = "我是3栋502的张伟，电话13912345678，楼道灯坏了一个星期"
    r = client.post("/v1/reports", json=body(text=text, name="张伟", phone="13912345678", room="502"), headers=auth())
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]

    t = client.get(f"/v1/track/{code}")
    assert t.status_code == 200, t.text
    doc = t.json()
    assert set(doc) == {
        "tracking_code",
        "status",
        "summary",  # the complaint, scrubbed of the reporter's name, phone and room
        "steps",
        "status_note",
        "responsible",
        "expected_at",
        "received_at",
        "updated_at",
        "ledger_ref",  # the disclosure's row reference (docs/ledger.md), not personal
    }
    assert doc["tracking_code"] == code and doc["status"] == "received"
    for stamp in ("received_at", "updated_at"):
        dt.datetime.fromisoformat(doc[stamp])
    for secret in ("张伟", "13912345678", "502", "5678", "xueyuan"):
        assert secret not in readable(doc), secret
    assert "楼道灯坏了" in doc["summary"]
    assert [(s["step"], s["done"], s["current"]) for s in doc["steps"]] == [
        ("received", True, True),
        *((k, False, False) for k in ("graded", "assigned", "in_progress", "done", "evaluated")),
    ]
    assert doc["steps"][0]["at"] == doc["received_at"] and doc["steps"][1]["at"] is None
    assert r.json()["report_id"] not in t.text
    assert client.get(f"/v1/track/{code.lower()}").status_code == 200
    assert_problem(client.get("/v1/track/ZZZZZZZZ"), 404)
    assert_problem(client.get("/v1/track/0000"), 404)

    # Staff see the report, but masked and scrubbed too.
    listed = readable(client.get("/v1/reports", headers=auth()).json()["items"])
    assert "楼道灯" in listed  # the complaint itself stays readable to staff
    for secret in ("张伟", "13912345678", "502"):
        assert secret not in listed, secret


def test_tracking_shows_each_step_with_the_date_it_was_first_reached(client):
    r = client.post("/v1/reports", json=body(), headers=auth())
    rid, code = r.json()["report_id"], r.json()["tracking_code"]
    task = {
        "entry_id": "e_1",
        "matter_id": "m_1",
        "level": "yellow",
        "category": "drainage",
        "actor": "u-party",
        "lead_party": "property_company",
        "lead_unit": "江西锦程物业服务有限公司",
        "deadline": "2024-03-20T18:00:00+08:00",
    }
    moves = [
        ("entry.assigned.v1", "assigned", "2024-03-10T10:00:00+08:00"),
        ("entry.progressed.v1", "claimed", "2024-03-11T09:00:00+08:00"),
        ("entry.progressed.v1", "in_progress", "2024-03-12T09:00:00+08:00"),  # same step: the first date stays
        ("entry.completed.v1", "completed", "2024-03-15T16:00:00+08:00"),
    ]

    async def progress() -> None:
        async with client.app.state.ctx.bus.uow() as uow:
            triaged = events.MatterTriaged.model_validate(
                {
                    "matter_id": "m_1",
                    "report_ids": [rid],
                    "title": "下水道堵塞",
                    "place": {},
                    "kind": "problem",
                    "category": "drainage",
                    "level": "yellow",
                    "route": "direct",
                    "confidence": 0.9,
                    "triaged_at": "2024-03-10T09:00:00+08:00",
                }
            )
            env = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="xueyuan", data=triaged)
            await handlers.on_matter_triaged(uow, env, triaged)
            for seq, (kind, state, at) in enumerate(moves, start=1):
                data = events.EntryEvent.model_validate(task | {"state": state, "at": at})
                env = Envelope.new(type=kind, source="/services/ledger", community="xueyuan", data=data, sequence=seq)
                await handlers.on_entry(uow, env, data)
            await uow.commit()

    client.portal.call(progress)
    doc = client.get(f"/v1/track/{code}").json()
    steps = {s["step"]: s for s in doc["steps"]}
    assert doc["status"] == "completed" and doc["responsible"] == "江西锦程物业服务有限公司"
    assert doc["expected_at"].startswith("2024-03-20T10:00:00")
    assert [s["done"] for s in doc["steps"]] == [True, True, True, True, True, False]
    assert steps["done"]["current"] and not steps["in_progress"]["current"]
    assert steps["graded"]["at"] is not None
    assert steps["assigned"]["at"].startswith("2024-03-10T02:00:00")
    assert steps["in_progress"]["at"].startswith("2024-03-11T01:00:00")  # claimed first; started later
    assert steps["done"]["at"].startswith("2024-03-15T08:00:00")
    assert steps["evaluated"]["at"] is None
    assert all(s["label"] and "/" in s["label"] for s in doc["steps"])  # words, Chinese first, English after


def test_entry_events_are_taken_under_their_old_and_new_names(client):
    """task.*.v1 (the ledger's previous release) and entry.*.v1 move the same report, in one sequence."""
    code = client.post("/v1/reports", json=body(), headers=auth()).json()["tracking_code"]
    rid = all_reports(client)[0]["id"]
    triaged = events.MatterTriaged.model_validate(
        {
            "matter_id": "m_re",
            "report_ids": [rid],
            "title": "下水道堵塞",
            "place": {},
            "kind": "problem",
            "category": "drainage",
            "level": "yellow",
            "route": "direct",
            "confidence": 0.9,
            "triaged_at": "2024-03-10T09:00:00+08:00",
        }
    )
    entry = {"entry_id": "e_re", "matter_id": "m_re", "level": "yellow", "category": "drainage", "actor": "u-party"}

    def ledger_event(type_: str, state: str, seq: int) -> Envelope:
        data = events.EntryEvent.model_validate(entry | {"state": state, "at": "2024-03-11T09:00:00+08:00"})
        return Envelope.new(
            type=type_, source="/services/ledger", community="xueyuan", subject="m_re", data=data, sequence=seq
        )

    async def publish(*envs: Envelope) -> None:
        await client.app.state.ctx.bus.wait_ready()
        conn = await client.app.state.ctx.bus.get_connection()
        channel = await conn.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        for env in envs:
            msg = aio_pika.Message(env.to_bytes(), message_id=env.id, headers=signed(env))
            await exchange.publish(msg, routing_key=env.type)
        await channel.close()

    def status() -> str:
        return client.get(f"/v1/track/{code}").json()["status"]

    tri = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="xueyuan", data=triaged)
    client.portal.call(publish, tri)
    wait_for(lambda: status() == "triaged")
    old = ledger_event("task.progressed.v1", "claimed", 1)
    client.portal.call(publish, old)
    wait_for(lambda: status() == "claimed")
    client.portal.call(publish, ledger_event("entry.completed.v1", "completed", 2))
    wait_for(lambda: status() == "completed")
    # An old-named event older in the sequence is taken (its inbox row) and changes nothing: one sequence.
    late = ledger_event("task.assigned.v1", "assigned", 1)
    client.portal.call(publish, late)

    async def taken() -> bool:
        async with client.app.state.ctx.bus.uow() as uow:
            inbox = uow.tables.inbox
            row = (await uow.session.exec(select(inbox.c.event_id).where(inbox.c.event_id == late.id))).first()
            return row is not None

    wait_for(lambda: client.portal.call(taken), what="the late task.assigned.v1 was handled")
    assert status() == "completed"


def test_rejections_are_problems_naming_the_field_and_store_nothing(client):
    h = auth()
    doc = assert_problem(client.post("/v1/reports", json=body(community="nowhere"), headers=h), 422, "community")
    assert "nowhere" in doc["detail"]
    assert_problem(client.post("/v1/reports", json=body(text=""), headers=h), 422, "text")
    assert_problem(client.post("/v1/reports", json=body(text="   \n "), headers=h), 422, "text")
    assert_problem(client.post("/v1/reports", json=body(phone="12345678901"), headers=h), 422, "phone")
    assert_problem(client.post("/v1/reports", json=body(phone="1391234567"), headers=h), 422, "phone")
    assert_problem(client.post("/v1/reports", json=body(compound="不存在小区"), headers=h), 422, "compound")
    assert_problem(client.post("/v1/reports", json=body(text="漏" * 2001), headers=h), 422, "text")
    assert_problem(client.post("/v1/reports", json=body(channel="fax"), headers=h), 422, "channel")

    big = b'{"community": "xueyuan", "text": "' + b"x" * (1024 * 1024) + b'"}'
    r = client.post("/v1/reports", content=big, headers=h | {"Content-Type": "application/json"})
    assert_problem(r, 413)

    assert all_reports(client) == []


def test_authentication_is_required(client):
    assert_problem(client.post("/v1/reports", json=body()), 401)
    assert_problem(client.post("/v1/reports", json=body(), headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(client.get("/v1/reports"), 401)
    assert_problem(
        client.post("/v1/apikeys", json={"name": "k", "channels": ["miniprogram"], "communities": ["x"]}), 401
    )
    assert all_reports(client) == []


def test_staff_see_only_their_community(client):
    xy = client.post("/v1/reports", json=body(), headers=auth(("xueyuan",))).json()["report_id"]
    js_body = body(community="jinshan", text="景湖花园5号楼路灯不亮", room=None)
    js = client.post("/v1/reports", json=js_body, headers=auth(("jinshan",))).json()["report_id"]

    listed = client.get("/v1/reports", headers=auth(("xueyuan",))).json()["items"]
    assert [r["id"] for r in listed] == [xy]
    assert_problem(client.get(f"/v1/reports/{js}", headers=auth(("xueyuan",))), 404)
    assert_problem(client.get("/v1/reports", params={"community": "jinshan"}, headers=auth(("xueyuan",))), 403)
    assert client.get(f"/v1/reports/{js}", headers=auth(("jinshan",))).status_code == 200
    assert {r["id"] for r in all_reports(client)} == {xy, js}

    # Staff of one community cannot file into another, and roles without report.read cannot list.
    r = client.post("/v1/reports", json=body(community="jinshan"), headers=auth(("xueyuan",)))
    assert r.status_code == 404 and len(all_reports(client)) == 2
    assert_problem(client.get("/v1/reports", headers=auth(("xueyuan",), role="resident_rep")), 403)


def test_api_key_flow(client):
    party = auth(("jinshan",), sub="u-wujianhua")
    spec = {"name": "金事精办小程序", "channels": ["miniprogram"], "communities": ["jinshan"]}
    r = client.post("/v1/apikeys", json=spec, headers=party)
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith("hk_") and created["channels"] == ["miniprogram"] and created["communities"] == ["jinshan"]

    ok = body(community="jinshan", channel="miniprogram", text="景湖花园3号楼电动车乱停，消防通道被堵", room=None)
    r = client.post("/v1/reports", json=ok, headers={"X-API-Key": key})
    assert r.status_code == 201, r.text
    rid = r.json()["report_id"]
    assert_problem(client.post("/v1/reports", json=body(channel="miniprogram"), headers={"X-API-Key": key}), 403)
    assert_problem(client.post("/v1/reports", json=ok | {"channel": "wechat_group"}, headers={"X-API-Key": key}), 403)
    assert_problem(client.post("/v1/reports", json=ok, headers={"X-API-Key": "hk_unknown"}), 401)

    # Key management needs apikey.manage and the community in scope.
    assert_problem(client.post("/v1/apikeys", json=spec, headers=auth(("jinshan",), role="grid_worker")), 403)
    assert_problem(client.post("/v1/apikeys", json=spec, headers=auth(("xueyuan",))), 404)
    assert_problem(client.post("/v1/apikeys", json=spec | {"communities": ["*"]}, headers=party), 403)

    async def revoke() -> None:
        async with client.app.state.ctx.db.session() as s:
            row = (await s.exec(select(ApiKey).where(ApiKey.id == created["id"]))).one()
            assert key not in (row.key_hash, row.name)  # stored hashed
            row.revoked_at = dt.datetime.now(dt.UTC)
            s.add(row)
            await s.commit()

    client.portal.call(revoke)
    r = client.post("/v1/reports", json=ok | {"channel_message_id": "mp-2"}, headers={"X-API-Key": key})
    assert_problem(r, 401)
    assert [x["id"] for x in all_reports(client)] == [rid]


def test_apikey_cli(hall_env, db_url, tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALL_", "INTAKE_"))}
    env |= {"HALL_VAR_DIR": str(tmp_path / "var"), "INTAKE_DATABASE_URL": db_url, "HALL_ENV": "test"}
    cmd = [sys.executable, "-m", "services.intake", "apikey", "create", "--name", "wecom-adapter"]
    cmd += ["--channel", "wechat_group", "--community", "jinshan"]
    out = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.strip().splitlines())
    assert lines["id"].startswith("key_") and lines["key"].startswith("hk_")
    assert Path(tmp_path / "intake.db").exists()

    monkeypatch.setenv("INTAKE_DATABASE_URL", db_url)
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    with TestClient(create()) as c:
        msg = body(community="jinshan", channel="wechat_group", text="景湖花园5号楼楼道灯不亮", room=None)
        r = c.post("/v1/reports", json=msg, headers={"X-API-Key": lines["key"]})
        assert r.status_code == 201, r.text
        r = c.post("/v1/reports", json=msg | {"channel": "miniprogram"}, headers={"X-API-Key": lines["key"]})
        assert r.status_code == 403


def test_channel_message_over_the_broker_becomes_a_report(client):
    data = events.ChannelMessage(
        channel="wechat_group",
        channel_message_id="wx-broker-1",
        text="@物业 12栋2单元楼道灯又不亮了[图片]",
        sender=events.Sender(id="wxid_liu", name="刘秀英", phone="13800002031"),
    )
    rejected, duplicates = consumer_count(CHANNELS, "rejected"), consumer_count(CHANNELS, "duplicate")
    stranger = Envelope.new(type="channel.message.v1", source="/adapters/wecom", community="nowhere", data=data)
    publish(client, stranger)  # rejected: dead-lettered, nothing stored
    env = Envelope.new(type="channel.message.v1", source="/adapters/wecom", community="xueyuan", data=data)
    publish(client, env)
    publish(client, env)  # redelivery of the same event

    rows = wait_for(lambda: all_reports(client))
    wait_for(
        lambda: consumer_count(CHANNELS, "rejected") > rejected and consumer_count(CHANNELS, "duplicate") > duplicates,
        what="the stranger dead-lettered and the redelivery handled as a duplicate",
    )
    [row] = all_reports(client)
    assert row["channel"] == "wechat_group" and row["community"] == "xueyuan"
    assert (row["building"], row["unit"], row["unparsed"]) == ("12", "2", ["compound"])
    assert rows[0]["id"] == row["id"]


def publish(c: TestClient, env: Envelope) -> None:
    """Publish a channel message as an adapter would."""

    async def _go() -> None:
        await c.app.state.ctx.bus.wait_ready()  # exchanges and queues are declared
        conn = await aio_pika.connect_robust(get_settings().amqp_url)
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(CHANNELS_EXCHANGE)
            await ex.publish(aio_pika.Message(env.to_bytes(), message_id=env.id), routing_key=env.type)

    c.portal.call(_go)
