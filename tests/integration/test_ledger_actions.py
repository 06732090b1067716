"""The ledger API end to end on its real lifespan: every transition, escalation round trip, supporting units,
disclosures and figures (RabbitMQ in a private vhost, a SQLite file)."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import audit, handlers, service
from services.ledger.api import API_ACTIONS
from services.ledger.app import spec
from services.ledger.domain import STATES, TRANSITIONS, allowed_actions
from services.ledger.models import Entry
from services.runtime import auth
from services.runtime.service import create_app
from services.runtime.settings import get_settings
from tests.support import private_vhost, readable

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)
PROPERTY = "江西恒泰物业服务有限公司"
HOUSING = "县住房保障中心"
PARTY = "金山社区党委"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ledger")
    with private_vhost("hall-test") as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("HALL_VAR_DIR", str(tmp))
        mp.setenv("HALL_AMQP_URL", url)
        mp.setenv("HALL_ENV", "test")
        mp.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp / 'ledger.db'}")
        get_settings.cache_clear()
        try:
            with TestClient(create_app(spec())) as c:
                yield c
        finally:
            get_settings.cache_clear()


def token(role: str, unit: str | None = PROPERTY, community: str = "jinshan") -> dict[str, str]:
    t = auth.mint(sub=f"{role}_{unit or 'x'}", role=role, communities=[community], unit=unit)
    return {"Authorization": f"Bearer {t}"}


def run(client: TestClient, fn):
    return client.portal.call(fn)


def feed(client: TestClient, handler, type: str, data, subject: str) -> None:
    ctx = client.app.state.ctx
    env = Envelope.new(type=type, source="/services/test", community="jinshan", subject=subject, data=data)

    async def go() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handler(uow, env, data)
            await uow.commit()

    run(client, go)


def triaged(matter_id: str, route: str = "direct") -> events.MatterTriaged:
    return events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="金泰和庄12号楼2单元下水道堵塞",
        place=events.Place(compound="jinghuhuayuan", building="5"),
        kind="problem",
        category="drainage",
        level="yellow",
        route=route,
        confidence=0.9,
        triaged_at=NOW,
    )


def new_entry(client: TestClient, route: str = "direct", supporting: list[str] | None = None) -> str:
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id, route), matter_id)
    if route == "deliberate":
        res = events.Resolution(
            matter_id=matter_id,
            outcome="resolved",
            measures="物业疏通并修复，施工期间居民配合",
            lead_party="property_company",
            lead_unit=PROPERTY,
            supporting_units=supporting or [],
        )
        data = events.SessionConcluded(session_id="ses_1", kind="fixed_day", concluded_at=NOW, resolutions=[res])
        feed(client, handlers.on_session_concluded, "session.concluded.v1", data, "ses_1")
    return service.entry_id_for(matter_id)


def set_state(client: TestClient, entry_id: str, state: str) -> None:
    ctx = client.app.state.ctx

    async def go() -> None:
        async with ctx.db.session() as s:
            e = await s.get(Entry, entry_id)
            e.state = state
            e.escalated_to = HOUSING if state == "escalated" else None
            await s.commit()

    run(client, go)


def act(client: TestClient, entry_id: str, action: str, headers: dict, **body):
    return client.post(f"/v1/entries/{entry_id}/actions/{action}", json=body or None, headers=headers)


BODY = {
    "progress": {"note": "进展"},
    "escalate": {"note": "需部门处理", "department": HOUSING},
    "complete": {"note": "已修复"},
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", API_ACTIONS)
def test_every_transition_through_the_api(client, state: str, action: str):
    entry_id = new_entry(client)
    set_state(client, entry_id, state)
    r = act(client, entry_id, action, token("party_org", PARTY), **BODY.get(action, {}))
    expected = TRANSITIONS[state].get(action)
    if expected is None:
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["state"] == state and problem["allowed"] == allowed_actions(state)
        assert client.get(f"/v1/entries/{entry_id}", headers=token("party_org")).json()["state"] == state
    else:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == expected
        last = body["timeline"][-1]
        assert (last["action"], last["from_state"], last["to_state"]) == (action, state, expected)
        assert last["actor"] == f"party_org_{PARTY}"


def test_claim_accepts_then_work_starts_then_completes(client):
    # Issue 22: claim left the entry assigned ("assigned→assigned"), could be repeated, and complete was offered
    # before any work had started.
    entry_id = new_entry(client)
    pc = token("property_company")
    first = client.get(f"/v1/entries/{entry_id}", headers=pc).json()
    assert first["state"] == "assigned" and first["available_actions"] == ["claim", "start", "escalate"]
    assert act(client, entry_id, "complete", pc, note="已修复").status_code == 409
    r = act(client, entry_id, "claim", token("property_company", "金溪物业二分公司"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["state_label"], body["lead_unit"]) == ("claimed", "已认领", "金溪物业二分公司")
    last = body["timeline"][-1]
    assert (last["action"], last["from_state"], last["to_state"], last["note"]) == (
        "claim",
        "assigned",
        "claimed",
        "已认领",
    )
    assert body["available_actions"] == ["start", "escalate"]
    again = act(client, entry_id, "claim", pc)
    assert again.status_code == 409 and again.json()["allowed"] == ["escalate", "start"]
    assert act(client, entry_id, "complete", pc, note="已修复").status_code == 409
    assert act(client, entry_id, "start", pc).json()["state"] == "in_progress"
    done = act(client, entry_id, "complete", pc, note="已修复")
    assert done.status_code == 200 and done.json()["state"] == "completed"
    steps = [(t["action"], t["from_state"], t["to_state"]) for t in done.json()["timeline"]][1:]
    assert steps == [
        ("assign", "registered", "assigned"),
        ("claim", "assigned", "claimed"),
        ("start", "claimed", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]


def test_starting_unclaimed_work_claims_it(client):
    entry_id = new_entry(client)
    r = act(client, entry_id, "start", token("property_company", "金溪物业二分公司"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["state"], body["lead_unit"], body["timeline"][-1]["note"]) == (
        "in_progress",
        "金溪物业二分公司",
        "认领并开始办理",
    )


def test_escalated_work_comes_back_before_it_completes(client):
    entry_id = new_entry(client)
    act(client, entry_id, "start", token("property_company"))
    act(client, entry_id, "escalate", token("property_company"), note="涉及管网改造", department=HOUSING)
    r = act(client, entry_id, "complete", token("property_company"), note="已修复")
    assert r.status_code == 409 and r.json()["allowed"] == ["progress", "return"]


def test_escalation_round_trip(client):
    entry_id = new_entry(client)
    assert act(client, entry_id, "start", token("property_company")).status_code == 200
    r = act(client, entry_id, "escalate", token("partner_unit", "县供电公司"), note="涉及管网改造", department=HOUSING)
    assert r.status_code == 200 and r.json()["state"] == "escalated" and r.json()["escalated_to"] == HOUSING
    # A department acts only on what was escalated to it, and only reports progress or returns it.
    other = act(client, entry_id, "progress", token("department", "县城管局"), note="不是我们的")
    assert other.status_code == 403 and "本单位" in other.json()["detail"]
    assert act(client, entry_id, "complete", token("department", HOUSING), note="完成").status_code == 403
    r = act(
        client,
        entry_id,
        "progress",
        token("department", HOUSING),
        note="已派人勘察，设计坡度不足",
        photos=["https://img.example/1.jpg"],
    )
    assert r.status_code == 200 and r.json()["state"] == "escalated"
    step = r.json()["timeline"][-1]
    assert step["note"] == f"【{HOUSING}】已派人勘察，设计坡度不足" and step["photos"] == ["https://img.example/1.jpg"]
    assert step["note_en"] == f"From “{HOUSING}”: “已派人勘察，设计坡度不足”"
    assert step["actor"] == f"department_{HOUSING}"
    r = act(client, entry_id, "return", token("department", HOUSING))
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "in_progress" and body["escalated_to"] == HOUSING
    assert body["timeline"][-1]["action"] == "return" and "returned for verification" in body["timeline"][-1]["note"]
    assert body["timeline"][-1]["note_en"] == "The department finished its part; returned for verification"
    assert [t["note_en"] for t in body["timeline"] if t["action"] == "escalate"] == [
        f"Handed over to “{HOUSING}”: “涉及管网改造”"
    ]
    # Back home, the department can no longer act; the property company verifies and completes.
    assert act(client, entry_id, "progress", token("department", HOUSING), note="再看看").status_code == 403
    r = act(client, entry_id, "complete", token("property_company"), note="复核通过，已修复")
    assert r.status_code == 200 and r.json()["state"] == "completed"
    actions = [(t["action"], t["to_state"]) for t in r.json()["timeline"]]
    assert actions == [
        ("register", "registered"),
        ("assign", "assigned"),
        ("start", "in_progress"),
        ("escalate", "escalated"),
        ("progress", "escalated"),
        ("return", "in_progress"),
        ("complete", "completed"),
    ]


def test_supporting_units_claim_progress_and_complete(client):
    entry_id = new_entry(client, route="deliberate", supporting=[PARTY])
    detail = client.get(f"/v1/entries/{entry_id}", headers=token("party_org", PARTY)).json()
    assert [t["unit"] for t in detail["supporting_tasks"]] == [PARTY]
    task = detail["supporting_tasks"][0]
    assert task["state"] == "assigned" and task["deadline"] == detail["deadline"]
    base = f"/v1/entries/{entry_id}/supporting/{task['id']}"
    assert client.post(f"{base}/claim", headers=token("partner_unit", "县供电公司")).status_code == 403
    assert client.post(f"{base}/progress", json={"note": "x"}, headers=token("partner_unit", PARTY)).status_code == 409
    r = client.post(f"{base}/claim", headers=token("partner_unit", PARTY))
    # The directory knows the unit (the community party committee), so its party comes from there, not the token.
    assert r.status_code == 200 and r.json()["state"] == "claimed" and r.json()["party"] == "party_org"
    r = client.post(
        f"{base}/progress",
        json={"note": "已协调一楼商户同意施工", "photos": ["https://img.example/a.jpg"]},
        headers=token("partner_unit", PARTY),
    )
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    note = r.json()["progress"][-1]
    assert note["note"] == "已协调一楼商户同意施工" and note["photos"] == ["https://img.example/a.jpg"]
    assert note["actor"] == f"partner_unit_{PARTY}" and note["unit"] == PARTY
    bad = client.post(
        f"{base}/progress", json={"note": "x", "photos": ["file:///etc/passwd"]}, headers=token("partner_unit", PARTY)
    )
    assert bad.status_code == 422
    assert (
        client.post(f"{base}/complete", json={"note": "配合完成"}, headers=token("partner_unit", PARTY)).json()["state"]
        == "completed"
    )
    # The party organisation adds another unit with its own deadline.
    own = (NOW + dt.timedelta(days=3)).isoformat()
    r = client.post(
        f"/v1/entries/{entry_id}/supporting", json={"unit": HOUSING, "deadline": own}, headers=token("party_org", PARTY)
    )
    assert r.status_code == 201 and r.json()["state"] == "assigned" and r.json()["state_label_en"] == "To claim"
    assert dt.datetime.fromisoformat(r.json()["deadline"]) == dt.datetime.fromisoformat(own)
    assert (
        client.post(
            f"/v1/entries/{entry_id}/supporting", json={"unit": HOUSING}, headers=token("party_org", PARTY)
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/v1/entries/{entry_id}/supporting", json={"unit": "x"}, headers=token("property_company")
        ).status_code
        == 403
    )
    timeline = client.get(f"/v1/entries/{entry_id}", headers=token("party_org", PARTY)).json()["timeline"]
    assert [t["action"] for t in timeline][-4:] == ["support_claim", "support_progress", "support_complete", "note"]
    assert all(t["note_en"] and t["note_en"] != t["note"] for t in timeline[-4:-1]), timeline[-4:]
    checked, broken = run(client, lambda: audit.verify(client.app.state.ctx.db))
    assert broken == [] and checked > 0


def test_a_roster_unit_supports_under_its_party_from_the_start(client):
    # Issue 22: 县住建局, the partner unit in the roster, got `party: null` on its supporting task.
    entry_id = new_entry(client, route="deliberate")
    org = token("party_org", PARTY)
    r = client.post(f"/v1/entries/{entry_id}/supporting", json={"unit": "县住建局"}, headers=org)
    assert r.status_code == 201, r.text
    assert r.json()["party"] == "partner_unit" and r.json()["state"] == "assigned"
    dept = client.post(f"/v1/entries/{entry_id}/supporting", json={"unit": "县城管局"}, headers=org).json()
    assert dept["party"] == "department"
    unknown = client.post(f"/v1/entries/{entry_id}/supporting", json={"unit": "某装修公司"}, headers=org).json()
    assert unknown["party"] is None
    listed = client.get(f"/v1/entries/{entry_id}/supporting", headers=org).json()
    assert {t["unit"]: t["party"] for t in listed["items"]} == {
        "县住建局": "partner_unit",
        "县城管局": "department",
        "某装修公司": None,
    }
    # The party organisation claiming on a unit's behalf does not make the unit a party organisation.
    claimed = client.post(f"{_task_url(entry_id, unknown['id'])}/claim", headers=org).json()
    assert claimed["state"] == "claimed" and claimed["party"] is None


def _task_url(entry_id: str, task_id: str) -> str:
    return f"/v1/entries/{entry_id}/supporting/{task_id}"


def test_disclosure_publish_versions_and_formats(client):
    entry_id = new_entry(client, route="deliberate")
    act(client, entry_id, "start", token("property_company"))
    act(
        client,
        entry_id,
        "progress",
        token("property_company"),
        note="我是王建国师傅，电话13812345678，3单元402室已疏通",
    )
    month = dt.datetime.now(handlers.TZ).strftime("%Y-%m")
    assert (
        client.post(
            "/v1/disclosures", json={"community": "jinshan", "month": month}, headers=token("property_company")
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/disclosures", json={"community": "xueyuan", "month": month}, headers=token("party_org", PARTY)
        ).status_code
        == 404
    )
    r = client.post("/v1/disclosures", json={"community": "jinshan", "month": month}, headers=token("party_org", PARTY))
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == 1 and v1["changes_from_previous"] is None and v1["summary"]["listed"] >= 1
    act(client, entry_id, "complete", token("property_company"), note="已修复")
    v2 = client.post(
        "/v1/disclosures", json={"community": "jinshan", "month": month}, headers=token("party_org", PARTY)
    ).json()
    assert v2["version"] == 2 and v2["sha256"] != v1["sha256"]
    assert v2["changes_from_previous"]["changed"][entry_id[-8:]]["state"] == ["in_progress", "completed"]
    base = f"/v1/disclosures/jinshan/{month}"
    html = client.get(base, headers=token("resident_rep"))
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["x-disclosure-version"] == "2" and "@page" in html.text
    old = client.get(base + ".json", params={"version": 1}, headers=token("resident_rep")).json()
    assert old["version"] == 1 and old["sha256"] == v1["sha256"]
    texts = {
        "html": html.text,
        "csv": client.get(base + ".csv", headers=token("resident_rep")).content.decode("utf-8-sig"),
        "txt": client.get(base + ".txt", headers=token("resident_rep")).text,
    }
    wb = load_workbook(io.BytesIO(client.get(base + ".xlsx", headers=token("resident_rep")).content))
    texts["xlsx"] = "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )
    for fmt, text in texts.items():
        assert "13812345678" not in text and "王建国" not in text and "402室" not in text, fmt
    assert "景湖花园" in texts["csv"] and len(texts["txt"]) <= 1000
    assert client.get(base, headers=token("resident_rep", community="xueyuan")).status_code == 404
    assert client.get(f"/v1/disclosures/jinshan/{month}.pdf", headers=token("party_org")).status_code == 404
    assert client.get("/v1/disclosures/jinshan/2001-01", headers=token("party_org")).status_code == 404


def test_figures_grouped_and_county_wide(client):
    done = new_entry(client)
    new_entry(client)
    assert act(client, done, "start", token("property_company")).status_code == 200
    assert act(client, done, "complete", token("property_company"), note="已修复").status_code == 200
    r = client.get("/v1/figures", params={"group_by": ["community", "level"]}, headers=token("party_org", PARTY))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group_by"] == ["community", "level"]
    assert sum(g["entries"] for g in body["groups"]) == body["entries"] > 0
    assert {g["key"]["community"] for g in body["groups"]} == {"jinshan"}
    county = client.get("/v1/figures", headers=token("county_operator", None, community="*")).json()
    assert county["entries"] == body["entries"]
    assert client.get("/v1/figures", params={"group_by": "room"}, headers=token("party_org")).status_code == 422
    ctx = client.app.state.ctx

    async def count() -> tuple[int, int]:
        async with ctx.db.session() as s:
            rows = [e for e in (await s.exec(select(Entry))).all() if e.state != "merged"]  # counted on the survivor
        return len(rows), sum(1 for e in rows if e.state in ("completed", "evaluated", "closed"))

    total, done = run(client, count)
    assert (body["entries"], body["completed"]) == (total, done)


# A staff note as the probe wrote it, and the other ways people write the same data.
STAFF_NOTE = "已为王小明（电话13812345678，身份证110105198001011234）疏通下水道"
STAFF_SECRETS = ("王小明", "13812345678", "110105198001011234", "李秀英", "5678", "0794", "502", "hh_")


def _outbox(client: TestClient) -> list[Envelope]:
    ctx = client.app.state.ctx
    table = ctx.bus.tables.outbox

    async def go() -> list[Envelope]:
        async with ctx.db.session() as s:
            return [Envelope.from_bytes(b) for b in (await s.exec(select(table.c.body).order_by(table.c.id))).all()]

    return run(client, go)


def test_staff_notes_are_scrubbed_before_they_are_kept_or_sent(client):
    entry_id = new_entry(client, route="deliberate", supporting=[PARTY])
    prop, org = token("property_company"), token("party_org", PARTY)
    assert act(client, entry_id, "start", prop, note="帮李秀英阿姨联系了+86 138 1234 5678").status_code == 200
    r = act(client, entry_id, "progress", prop, note="住户３栋２单元５０２，座机0794-8123456，原报事人hh_3fa9c2d1e0b7")
    assert r.status_code == 200, r.text
    task = client.get(f"/v1/entries/{entry_id}", headers=org).json()["supporting_tasks"][0]
    base = f"/v1/entries/{entry_id}/supporting/{task['id']}"
    assert client.post(f"{base}/claim", headers=token("partner_unit", PARTY)).status_code == 200
    r = client.post(
        f"{base}/progress", json={"note": "给王小明138.1234.5678送了沙袋"}, headers=token("partner_unit", PARTY)
    )
    assert r.status_code == 200, r.text
    r = act(client, entry_id, "complete", prop, note=STAFF_NOTE)
    assert r.status_code == 200, r.text
    detail = client.get(f"/v1/entries/{entry_id}", headers=org)
    assert detail.json()["timeline"][-1]["note"] == "已为居民（电话[电话]，身份证[证件号]）疏通下水道"
    sent = [e for e in _outbox(client) if e.subject == detail.json()["matter_id"]]
    assert {"entry.progressed.v1", "entry.completed.v1"} <= {e.type for e in sent}
    # readable(): what a person could read, without ids and times where digits such as 502 occur by chance.
    for where, text in [("staff API", readable(detail.json()))] + [(e.type, readable(e.data)) for e in sent]:
        for secret in STAFF_SECRETS:
            assert secret not in text, f"{where} holds {secret!r}"
