"""Monthly board notices on PostgreSQL: two replicas put each board up once, audited; the owners' group gets it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import yaml
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import audit, handlers, publicity
from services.ledger.app import spec
from services.ledger.domain import TZ
from services.ledger.models import BoardNotice, Disclosure, notices
from services.runtime import directory
from tests.integration.notify_servers import Hook
from tests.support import pg_store

pytestmark = pytest.mark.integration


@pytest.fixture
async def store():
    async with pg_store(spec(), "ledger_publicity") as s:
        yield s


@pytest.fixture
def hook(tmp_path, monkeypatch):
    """景湖花园's owners' group is a WeCom group bot on 127.0.0.1."""
    h = Hook()
    data = yaml.safe_load(directory.DEFAULT_PATH.read_text(encoding="utf-8"))
    jinshan = next(c for c in data["communities"] if c["code"] == "jinshan")
    compound = next(c for c in jinshan["compounds"] if c["code"] == "jinghuhuayuan")
    compound["owners_group"] = {"channel": "wecom", "webhook_url": h.url}
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(directory.ENV_VAR, str(path))
    directory.clear_cache()
    yield h
    h.close()
    directory.clear_cache()


def envelope(type_: str, data, subject: str) -> Envelope:
    return Envelope.new(type=type_, source="/services/test", community="jinshan", subject=subject, data=data)


async def seed(store) -> None:
    now = dt.datetime.now(dt.UTC)
    for mid, compound, title in (
        ("mat_pub_1", "jinghuhuayuan", "景湖花园5号楼楼道灯不亮，王小明13812345678反映"),
        ("mat_pub_2", "xiugumingyuan", "秀谷名苑2号楼门口垃圾清运不及时"),
    ):
        data = events.MatterTriaged(
            matter_id=mid,
            report_ids=[f"rpt_{mid}"],
            title=title,
            place=events.Place(compound=compound, building="5"),
            kind="problem",
            category="lighting",
            level="green",
            route="direct",
            confidence=0.9,
            triaged_at=now,
        )
        await store.handle(handlers.on_matter_triaged, envelope("matter.triaged.v1", data, mid), data)
    for i, rating in enumerate(("satisfied", "satisfied", "unsatisfied")):
        data = events.EvaluationRecorded(
            evaluation_id=f"ev_{i}",
            matter_id="mat_pub_1",
            round=1,
            method="questionnaire",
            rating=rating,
            household_ref=f"hh_{i:08x}",
            round_outcome="pending",
            recorded_at=now,
        )
        await store.handle(handlers.on_evaluation_recorded, envelope("evaluation.recorded.v1", data, "mat_pub_1"), data)


async def test_two_replicas_put_each_board_up_once_audited_and_push_to_the_owners_group(store, hook):
    await seed(store)
    local = dt.datetime.now(TZ)
    month = local.strftime("%Y-%m")
    first = (local.replace(day=28) + dt.timedelta(days=5)).replace(day=1, hour=9, minute=0)  # next month, 09:00
    # Two replicas at once (as when Redis, the lock service, is down), then a late third run.
    counts = await asyncio.gather(
        *(publicity.run_monthly(lambda: store.uow(actor=publicity.MONTHLY), first) for _ in range(2))
    )
    again = await publicity.run_monthly(lambda: store.uow(actor=publicity.MONTHLY), first + dt.timedelta(hours=3))
    communities = directory.load_directory().communities
    expected = sum(len(c.compounds) + 1 for c in communities)
    assert sum(counts) == expected and again == 0
    async with store.db.session() as s:
        rows = (await s.exec(select(BoardNotice).where(BoardNotice.community == "jinshan"))).all()
        frozen = (await s.exec(select(Disclosure).where(Disclosure.community == "jinshan"))).all()
    by_board = {r.board: r for r in rows}
    jinshan = directory.load_directory().community("jinshan")
    assert set(by_board) == {c.code for c in jinshan.compounds} | {"party"}
    assert [(d.month, d.version, d.created_by) for d in frozen] == [(month, 1, "system:monthly")]
    mine = by_board["jinghuhuayuan"]
    assert (mine.board_name, mine.published_by, mine.pushed) == ("景湖花园东门公告栏", "system:monthly", True)
    (lamp,) = mine.content["matters"]
    assert lamp["evaluation"] == "满意2/3户（67%）" and "13812345678" not in str(mine.content)
    assert len(by_board["party"].content["matters"]) == 2
    assert by_board["xiugumingyuan"].pushed is False  # no owners' group configured
    # Every board notice is a link of the community's hash chain, and the chain holds.
    checked, broken = await audit.verify(store.db, "jinshan")
    assert broken == [] and checked >= len(rows)
    async with store.db.session() as s:
        actions = [r.action for r in (await s.exec(select(audit.AuditRecord))).all() if r.community == "jinshan"]
    assert actions.count("publicity") == len(rows)

    # The owners' group gets the notice once, through its own bot (not the community's channel).
    sent = await notices.deliver_due(store.db, first)
    assert sent["sent"] >= 1
    (msg,) = hook.received
    text = msg["text"]["content"]
    assert "景湖花园东门公告栏" in text and "居民评价：满意2/3户（67%）" in text
    assert "13812345678" not in text and "王小明" not in text
    assert (await notices.deliver_due(store.db, first))["sent"] == 0 and len(hook.received) == 1


def test_staff_put_a_finished_month_up_and_residents_read_the_board(monkeypatch, tmp_path, vhost):
    from fastapi.testclient import TestClient

    from services.runtime.service import create_app
    from services.runtime.settings import get_settings
    from tests.integration.test_ledger_api import direct_entry, token

    monkeypatch.setenv("HALL_AMQP_URL", vhost)
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    get_settings.cache_clear()
    with TestClient(create_app(spec())) as client:
        direct_entry(client, "mat_pub_http", title="景湖花园5号楼楼道灯不亮（3-1-101室反映）")
        month = dt.datetime.now(TZ).strftime("%Y-%m")
        po = token("party_org")
        r = client.post(f"/v1/publicity/jinshan/{month}", headers=po)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month"  # the month is not over yet
        r = client.post("/v1/publicity/jinshan/2026-13", headers=po)
        assert r.status_code == 422
        assert client.post("/v1/publicity/jinshan/2026-01", headers=token("resident_rep")).status_code == 403

        # The month ends: the ledger's clock moves to the 1st of the next month.
        first = (dt.datetime.now(TZ).replace(day=28) + dt.timedelta(days=5)).replace(day=1, hour=9)
        monkeypatch.setattr("services.ledger.publicity_api.utcnow", lambda: first.astimezone(dt.UTC))
        r = client.post(f"/v1/publicity/jinshan/{month}", headers=po)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 4 and {b["board_kind_label"] for b in page["items"]} == {"小区公告栏", "支部党建宣传栏"}
        party = next(b for b in page["items"] if b["board"] == "party")
        assert (party["board_name"], party["automatic"], party["summary"]["listed"]) == ("金山社区党建宣传栏", False, 1)
        again = client.post(f"/v1/publicity/jinshan/{month}", headers=po).json()
        assert [b["published_at"] for b in again["items"]] == [b["published_at"] for b in page["items"]]

        html = client.get(f"/v1/publicity/jinshan/{month}/jinghuhuayuan", headers=token("resident_rep"))
        assert html.status_code == 200 and "景湖花园东门公告栏" in html.text and "101室" not in html.text
        txt = client.get(f"/v1/publicity/jinshan/{month}/party.txt", headers=po).text
        assert txt.startswith("【金山社区党建宣传栏】")
        assert client.get(f"/v1/publicity/jinshan/{month}/nowhere", headers=po).status_code == 404
        assert client.get(f"/v1/publicity/jinshan/{month}", headers=token("party_org", "xueyuan")).status_code == 404
    get_settings.cache_clear()
