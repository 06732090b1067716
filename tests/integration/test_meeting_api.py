"""Meeting API through the real app (lifespan with RabbitMQ and Redis), and concurrent planners."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.contracts import Envelope, events
from services.meeting import domain, handlers, planner, service
from services.meeting.app import spec
from services.meeting.models import MeetingSession, QueuedMatter
from services.runtime import settings as settings_mod
from services.runtime.db import Database
from services.runtime.migrate import upgrade
from services.runtime.service import create_app
from services.runtime.tables import BusTables
from tests.support import ServiceStore, create_pg_database, drop_pg_database, on_the_day, signed, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_vhost(vhost, monkeypatch):
    """The app's bus declares and publishes in a private vhost, never in the default one `make run` uses."""
    monkeypatch.setenv("HALL_AMQP_URL", vhost)


NOW = dt.datetime(2025, 3, 4, 10, 0, tzinfo=domain.TZ)
QUORUM = {
    "party_org": ["章文斌"],
    "owners_committee": ["程立新"],
    "property_company": ["傅振宇"],
    "resident_rep": ["刘秀英"],
    "partner_unit": ["危俊峰"],
}


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
def client(hall_env, tmp_path, monkeypatch):
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HALL_LOG_JSON", "false")
    monkeypatch.setenv("MEETING_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'meeting.db'}")
    settings_mod.get_settings.cache_clear()
    # The periodic planner is driven by the tests themselves (plan_all), so no timing decides a result.
    app = create_app(dataclasses.replace(spec(), periodic=lambda _ctx: []))
    with TestClient(app) as c:
        yield c
    settings_mod.get_settings.cache_clear()


def token(role: str = "party_org", communities: tuple[str, ...] = ("xueyuan",)) -> dict[str, str]:
    from services.runtime.auth import mint

    return {"Authorization": f"Bearer {mint(sub=f'{role}-tester', role=role, communities=list(communities))}"}


def triaged(matter_id: str, *, level: str = "yellow", compound: str = "jintaihezhuang", community: str = "xueyuan"):
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=[f"rpt_{matter_id}"],
        title=f"{matter_id} 12号楼下水道反复堵塞",
        place=events.Place(compound=compound, building="12"),
        kind="problem",
        category="drainage",
        level=level,
        route="deliberate",
        confidence=0.9,
        households=40,
        triaged_at=NOW,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/triage", community=community, subject=matter_id, data=data
    )
    return env, data


def seed(c: TestClient, *items) -> None:
    """Run triaged events through the handler in the app's own database."""
    ctx = c.app.state.ctx

    async def run():
        for env, data in items:
            async with ctx.bus.uow(cause=env) as uow:
                await handlers.on_matter_triaged(uow, env, data)
                await uow.commit()

    c.portal.call(run)


def outbox(c: TestClient) -> list[Envelope]:
    ctx = c.app.state.ctx

    async def run():
        t = ctx.bus.tables.outbox
        async with ctx.db.session() as s:
            rows = (await s.exec(t.select().order_by(t.c.id))).all()
        return [Envelope.from_bytes(r.body) for r in rows]

    return c.portal.call(run)


def matter(c: TestClient, matter_id: str) -> QueuedMatter:
    ctx = c.app.state.ctx

    async def run():
        async with ctx.db.session() as s:
            return await s.get(QueuedMatter, matter_id)

    return c.portal.call(run)


def add_waiting(c: TestClient, matter_id: str, community: str = "xueyuan") -> None:
    """A matter that waits in the queue (as if the session had been full)."""
    ctx = c.app.state.ctx
    now = NOW.astimezone(dt.UTC)

    async def run():
        async with ctx.db.session() as s:
            s.add(
                QueuedMatter(
                    matter_id=matter_id,
                    community=community,
                    category="road",
                    level="green",
                    route="deliberate",
                    title="等待上会",
                    queued_at=now,
                    updated_at=now,
                )
            )
            await s.commit()

    c.portal.call(run)


def fixed_session(c: TestClient, community: str = "xueyuan") -> dict:
    sessions = c.get("/v1/sessions", params={"community": community, "kind": "fixed_day"}, headers=token()).json()[
        "items"
    ]
    assert len(sessions) == 1, sessions
    return sessions[0]


def resolved(matter_id: str, **over) -> dict:
    body = {
        "matter_id": matter_id,
        "outcome": "resolved",
        "measures": "物业全额恢复门市地面，居民施工期间不使用下水",
        "lead_party": "property_company",
        "lead_unit": "江西锦程物业服务有限公司",
        "supporting_units": ["县住房保障中心"],
        "deadline": "2025-04-15T18:00:00+08:00",
    }
    return {**body, **over}


def test_sessions_read_detail_and_queue(client):
    seed(client, triaged("mat_a"), triaged("mat_b", level="green"))
    s = fixed_session(client)
    assert s["agenda_count"] == 2 and s["kind_label"] == "固定议事日" and s["status_label"] == "已排期"
    detail = client.get(f"/v1/sessions/{s['id']}", headers=token("resident_rep")).json()
    assert [a["matter_id"] for a in detail["agenda"]] == ["mat_a", "mat_b"]
    assert detail["agenda"][0]["title"].startswith("mat_a") and detail["agenda"][1]["level"] == "green"
    assert {"party_org", "department"} <= {i["party"] for i in detail["invitees"]}
    assert client.get("/v1/queue", headers=token()).json()["items"] == []
    # Time filters.
    assert (
        client.get("/v1/sessions", params={"from": "2025-04-01T00:00:00+08:00"}, headers=token()).json()["items"] == []
    )
    assert client.get("/v1/sessions").status_code == 401
    assert client.get("/v1/sessions", params={"community": "jinshan"}, headers=token()).status_code == 403


def test_conclude_with_quorum_emits_concluded(client, monkeypatch):
    seed(client, triaged("mat_c1"), triaged("mat_c2"), triaged("mat_c3"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    add_waiting(client, "mat_wait")
    body = {
        "attendance": QUORUM,
        "resolutions": [
            resolved("mat_c1"),
            {"matter_id": "mat_c2", "outcome": "site_inspection"},
            {"matter_id": "mat_c3", "outcome": "escalate", "department": "县住房保障中心"},
        ],
    }
    r = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "concluded" and len(r.json()["follow_up_sessions"]) == 1

    concluded = [e for e in outbox(client) if e.type == "session.concluded.v1"]
    assert len(concluded) == 1 and concluded[0].subject == sid and concluded[0].community == "xueyuan"
    payload = events.SessionConcluded.model_validate(concluded[0].data)
    assert {x.matter_id: x.outcome for x in payload.resolutions} == {
        "mat_c1": "resolved",
        "mat_c2": "site_inspection",
        "mat_c3": "escalate",
    }
    assert payload.resolutions[0].deadline == dt.datetime(2025, 4, 15, 10, 0, tzinfo=dt.UTC)
    assert matter(client, "mat_c1").state == "resolved" and matter(client, "mat_c3").state == "resolved"
    # What waited in the queue while the fixed day was held ages one step (carried over).
    assert matter(client, "mat_wait").carried_over == 1

    # The site inspection: at the compound, the workday after the fixed day (Thu 13 March) at 09:30, announced.
    site_id = r.json()["follow_up_sessions"][0]
    site = client.get(f"/v1/sessions/{site_id}", headers=token()).json()
    assert site["kind"] == "site_inspection" and site["place"] == "金泰和庄12号楼现场"
    assert dt.datetime.fromisoformat(site["starts_at"]) == dt.datetime(2025, 3, 14, 9, 30, tzinfo=domain.TZ)
    assert [a["matter_id"] for a in site["agenda"]] == ["mat_c2"]
    assert any(e.type == "session.scheduled.v1" and e.subject == site_id for e in outbox(client))

    detail = client.get(f"/v1/sessions/{sid}", headers=token()).json()
    assert detail["status"] == "concluded" and detail["attendance"]["party_org"] == ["章文斌"]
    assert len(detail["minutes"]["resolutions"]) == 3

    # Concluding twice is a conflict naming the state.
    again = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert again.status_code == 409
    assert "已结束" in again.json()["detail"] and again.json()["state"] == "concluded"


def test_a_session_is_concluded_on_its_day_not_before(client, monkeypatch):
    # A session dated months ahead cannot be concluded today (issue 21 item 11); nothing is stored on refusal.
    seed(client, triaged("mat_early"))
    sid = fixed_session(client)["id"]
    ahead = NOW + dt.timedelta(days=90)

    async def move():
        async with client.app.state.ctx.db.session() as s:
            row = await s.get(MeetingSession, sid)
            row.starts_at = ahead.astimezone(dt.UTC)
            await s.commit()

    client.portal.call(move)
    body = {"attendance": QUORUM, "resolutions": [resolved("mat_early")]}
    r = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "2025-06-02" in r.json()["detail"] and "当天或之后" in r.json()["detail"]
    assert "on or after" in r.json()["detail_en"] and r.json()["errors"][0]["field"] == "starts_at"
    assert client.get(f"/v1/sessions/{sid}", headers=token()).json()["status"] == "scheduled"
    assert not [e for e in outbox(client) if e.type == "session.concluded.v1"]
    # The evening before its day is still before it (the day is Asia/Shanghai's).
    eve = ahead.replace(hour=23, minute=59) - dt.timedelta(days=1)
    monkeypatch.setattr(planner, "utcnow", lambda: eve.astimezone(dt.UTC))
    assert client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token()).status_code == 409
    # On its day, early in the morning before the set hour, the minutes can be recorded.
    morning = ahead.replace(hour=0, minute=1)
    monkeypatch.setattr(planner, "utcnow", lambda: morning.astimezone(dt.UTC))
    r = client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token())
    assert r.status_code == 200 and r.json()["status"] == "concluded", r.text


def test_conclude_without_quorum_adjourns_and_requeues(client, monkeypatch):
    seed(client, triaged("mat_q1"), triaged("mat_q2"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    attendance = {k: v for k, v in QUORUM.items() if k != "partner_unit"}
    r = client.post(
        f"/v1/sessions/{sid}/conclude",
        json={"attendance": attendance, "resolutions": [resolved("mat_q1")]},
        headers=token(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "adjourned" and r.json()["missing_parties"] == ["partner_unit"]
    assert not [e for e in outbox(client) if e.type == "session.concluded.v1"]
    for mid in ("mat_q1", "mat_q2"):
        m = matter(client, mid)
        assert (m.state, m.session_id, m.carried_over) == ("queued", None, 1)
    queue = client.get("/v1/queue", headers=token()).json()["items"]
    assert {q["matter_id"] for q in queue} == {"mat_q1", "mat_q2"}
    assert client.get(f"/v1/sessions/{sid}", headers=token()).json()["status"] == "adjourned"
    # The next planning run puts them on the following fixed day (April), not the adjourned one.
    assert client.portal.call(service.plan_all, client.app.state.ctx.bus.uow) == 2
    upcoming = client.get("/v1/sessions", params={"status": "scheduled"}, headers=token()).json()["items"]
    assert [dt.datetime.fromisoformat(s["starts_at"]) for s in upcoming] == [
        dt.datetime(2025, 4, 10, 14, 30, tzinfo=domain.TZ)
    ]


def test_conclude_validation(client, monkeypatch):
    seed(client, triaged("mat_v1"), triaged("mat_v2"))
    sid = fixed_session(client)["id"]
    on_the_day(monkeypatch, client, sid)
    url = f"/v1/sessions/{sid}/conclude"
    no_deadline = resolved("mat_v1")
    del no_deadline["deadline"]
    r = client.post(url, json={"attendance": QUORUM, "resolutions": [no_deadline]}, headers=token())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "resolutions[0].deadline"
    assert "办结时限" in r.json()["detail"]

    r = client.post(url, json={"attendance": QUORUM, "resolutions": [resolved("mat_other")]}, headers=token())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolutions[0].matter_id"
    r = client.post(
        url,
        json={"attendance": QUORUM, "resolutions": [{"matter_id": "mat_v1", "outcome": "deferred"}]},
        headers=token(),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolutions[0].reason"
    r = client.post(
        url,
        json={"attendance": QUORUM, "resolutions": [{"matter_id": "mat_v1", "outcome": "escalate"}]},
        headers=token(),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolutions[0].department"
    # Every agenda matter needs a resolution when the session is quorate.
    r = client.post(url, json={"attendance": QUORUM, "resolutions": [resolved("mat_v1")]}, headers=token())
    assert r.status_code == 422 and "缺少决议：「mat_v2 12号楼下水道反复堵塞」" in r.json()["detail"]  # by title
    r = client.post(url, json={"attendance": {"nobody": ["x"]}, "resolutions": []}, headers=token())
    assert r.status_code == 422
    # Nothing was stored by any rejected request.
    assert client.get(f"/v1/sessions/{sid}", headers=token()).json()["status"] == "scheduled"
    assert matter(client, "mat_v1").state == "scheduled"
    # Deferred goes back to the queue.
    r = client.post(
        url,
        json={
            "attendance": QUORUM,
            "resolutions": [resolved("mat_v1"), {"matter_id": "mat_v2", "outcome": "deferred", "reason": "待测绘"}],
        },
        headers=token(),
    )
    assert r.status_code == 200, r.text
    assert matter(client, "mat_v2").state == "queued" and matter(client, "mat_v2").carried_over == 1


def test_tenant_and_role_checks(client):
    seed(client, triaged("mat_t1"))
    sid = fixed_session(client)["id"]
    other = token(communities=("jinshan",))
    assert client.get(f"/v1/sessions/{sid}", headers=other).status_code == 404
    body = {"attendance": QUORUM, "resolutions": [resolved("mat_t1")]}
    assert client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=other).status_code == 404
    assert client.post(f"/v1/sessions/{sid}/cancel", json={"reason": "x"}, headers=other).status_code == 404
    assert client.get("/v1/sessions", headers=other).json()["items"] == []
    assert client.get("/v1/queue", headers=other).json()["items"] == []
    assert client.post(f"/v1/sessions/{sid}/conclude", json=body, headers=token("resident_rep")).status_code == 403
    county = token("county_operator", ("*",))
    assert client.get(f"/v1/sessions/{sid}", headers=county).status_code == 200
    assert client.get("/v1/sessions/ses_missing", headers=county).status_code == 404


def test_cancel_returns_agenda_to_queue(client):
    seed(client, triaged("mat_x1", level="red"))
    sessions = client.get("/v1/sessions", params={"kind": "emergency"}, headers=token()).json()["items"]
    sid = sessions[0]["id"]
    r = client.post(f"/v1/sessions/{sid}/cancel", json={"reason": "改为现场勘察"}, headers=token())
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    last = [e for e in outbox(client) if e.subject == sid][-1]
    assert last.data["status"] == "cancelled" and last.data["agenda"] == ["mat_x1"]
    assert matter(client, "mat_x1").state == "queued"
    assert client.post(f"/v1/sessions/{sid}/cancel", json={"reason": "again"}, headers=token()).status_code == 409
    assert client.post(f"/v1/sessions/{sid}/cancel", json={"reason": ""}, headers=token()).status_code == 422


def test_planner_is_a_periodic_job_of_the_service():
    jobs = {job.name: job.interval_s for job in spec().periodic(None)}
    assert jobs == {"plan": 60, "notices": 15, "foresight": 3600}


# --- two planners on one database ----------------------------------------------------------------


async def _seed_queue(db: Database) -> None:
    now = NOW.astimezone(dt.UTC)
    async with db.session() as s:
        for community in ("jinshan", "xueyuan", "wenzhuang"):
            for i in range(4):
                s.add(
                    QueuedMatter(
                        matter_id=f"mat_{community}_{i}",
                        community=community,
                        category="road",
                        level="yellow" if i % 2 else "green",
                        route="deliberate",
                        title=f"{community} {i}",
                        queued_at=now - dt.timedelta(days=i),
                        updated_at=now,
                    )
                )
        await s.commit()


async def _two_planners(url: str) -> None:
    first, second = Database(url), Database(url)
    try:
        await upgrade(first, spec().migrations)
        await _seed_queue(first)
        stores = [ServiceStore(spec(), first), ServiceStore(spec(), second)]
        results = await asyncio.gather(*(service.plan_all(s.uow) for s in stores for _ in range(2)))
        assert sum(results) == 12
        async with first.session() as s:
            rows = (await s.exec(select(MeetingSession))).all()
            assert sorted(r.community for r in rows) == ["jinshan", "wenzhuang", "xueyuan"]
            assert all(r.kind == "fixed_day" for r in rows)
            queued = (await s.exec(select(QueuedMatter).where(QueuedMatter.state != "scheduled"))).all()
            assert queued == []
            t = BusTables(spec().metadata).outbox
            n = len((await s.exec(t.select())).all())
            assert n >= 3
    finally:
        await first.dispose()
        await second.dispose()


async def test_two_planners_sqlite_create_one_session_per_fixed_day(tmp_path):
    await _two_planners(f"sqlite+aiosqlite:///{tmp_path / f'plan-{uuid.uuid4().hex[:6]}.db'}")


async def test_two_planners_postgres_create_one_session_per_fixed_day():
    try:
        url = await create_pg_database("meeting_plan")
    except Exception as exc:  # pragma: no cover - PostgreSQL is optional for this tier
        pytest.skip(f"PostgreSQL unavailable: {exc!r}")
    try:
        await _two_planners(url)
    finally:
        await drop_pg_database(url)


def test_triaged_event_over_the_broker_is_planned(client):
    env, _ = triaged(f"mat_bus_{uuid.uuid4().hex[:8]}", level="red")

    publish_over_broker(client, env)
    m = wait_for(
        lambda: (x := matter(client, env.subject)) is not None and x.state == "scheduled" and x,
        what="the broker-delivered matter planned",
    )
    detail = client.get(f"/v1/sessions/{m.session_id}", headers=token()).json()
    assert detail["kind"] == "emergency" and [a["matter_id"] for a in detail["agenda"]] == [env.subject]


def test_closed_event_over_the_broker_cancels_the_emergency_session(client):
    env, _ = triaged(f"mat_bus_{uuid.uuid4().hex[:8]}", level="red")
    seed(client, (env, _))
    session_id = matter(client, env.subject).session_id
    data = events.MatterClosed(matter_id=env.subject, entry_id="ent_bus", by="stf_x", closed_at=NOW)
    closed = Envelope.new(
        type="matter.closed.v1", source="/services/ledger", community="xueyuan", subject=env.subject, data=data
    )

    publish_over_broker(client, closed)
    wait_for(lambda: matter(client, env.subject).state == "closed", what="meeting hears matter.closed.v1")
    detail = client.get(f"/v1/sessions/{session_id}", headers=token()).json()
    assert detail["status"] == "cancelled" and "销号" in detail["minutes"]["reason"]


def test_out_of_range_dates_are_422_naming_the_field(client):
    """Years far outside the platform's range overflow once shifted to UTC: refused before any query."""
    for name in ("from", "to"):
        for moment in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
            r = client.get("/v1/sessions", params={name: moment}, headers=token())
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"] == name and "2000" in r.json()["detail"]
    body = {"kind": "site_inspection", "matter_id": "mat_x", "starts_at": "9999-12-31T23:59:59-23:59"}
    r = client.post("/v1/sessions", json=body, headers=token())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "starts_at", r.text


def publish_over_broker(client, env: Envelope) -> None:
    """Publish a signed event on hall.events as its producer would (confirmed, mandatory), once the app's bus is up."""
    import aio_pika

    from services.contracts import EVENTS_EXCHANGE

    ctx = client.app.state.ctx

    async def publish():
        await ctx.bus.wait_ready(30)
        conn = await aio_pika.connect_robust(ctx.settings.amqp_url)
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(EVENTS_EXCHANGE)
            message = aio_pika.Message(
                env.to_bytes(), message_id=env.id, content_type="application/json", headers=signed(env)
            )
            await ex.publish(message, routing_key=env.type, mandatory=True)

    client.portal.call(publish)
