"""The working calendar's page and the county's holiday table of record in the meeting app; /readyz says the gaps."""

# ruff: noqa: F811 - the `client` fixture is imported from test_meeting_api and used as a parameter

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import Envelope
from services.meeting import domain, planner
from services.meeting.models import bus_tables, workcal_years
from services.runtime import holidays, workcal, workcal_store
from tests.integration.test_meeting_api import _clock, client, token  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

# A fictional arrangement (test data only, never a real notice): 2027 is what the county would enter.
BODY = {
    "source": "测试用安排（非真实通知）",
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
    "workdays": ["2027-01-09"],
}


@pytest.fixture(autouse=True)
def table(tmp_path, monkeypatch):
    monkeypatch.setenv(holidays.ENV_VAR, str(tmp_path / "holidays.yaml"))
    holidays.reset()
    workcal.clear_cache()
    yield tmp_path / "holidays.yaml"
    holidays.reset()
    workcal.clear_cache()


def test_the_county_enters_a_year_and_the_warning_goes(client, monkeypatch, table):
    county = token("county_operator", ("*",))
    december = dt.datetime(2026, 12, 7, 10, 0, tzinfo=domain.TZ)
    monkeypatch.setattr(planner, "utcnow", lambda: december.astimezone(dt.UTC))
    page = client.get("/v1/workcal", headers=token()).json()
    assert page["covered"] is False and "2027年" in page["warning"]
    by_year = {y["year"]: y for y in page["years"]}
    assert by_year[2026]["source"] == "library" and dt.date(2026, 2, 17).isoformat() in by_year[2026]["holidays"]
    assert by_year[2027]["source"] is None and by_year[2027]["source_label"].startswith("未覆盖")

    # Only the county enters it; bad arrangements are problems naming the field, and nothing is written.
    assert client.put("/v1/workcal/years/2027", json=BODY, headers=token("party_org")).status_code == 403
    bad = client.put("/v1/workcal/years/2027", json={**BODY, "workdays": ["2027-01-04"]}, headers=county)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "workdays" and "周六或周日" in bad.text
    assert client.put("/v1/workcal/years/2027", json={**BODY, "source": ""}, headers=county).status_code == 422
    assert stored(client) == {} and announced(client) == []

    r = client.put("/v1/workcal/years/2027", json=BODY, headers=county)
    assert r.status_code == 200, r.text
    year = r.json()
    assert year["source"] == "county" and year["notice"] == BODY["source"] and year["changes"][0]["action"] == "create"
    page = client.get("/v1/workcal", headers=token()).json()
    assert page["covered"] is True and page["warning"] is None
    # Deadlines and fixed days now count the county's days: 4 January 2027 (Mon) follows 31 December's 1 workday.
    assert workcal.add_workdays(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)
    assert workcal.is_workday(dt.date(2027, 1, 9))

    # The year of record is meeting's row (who, when, history), never the read-only seed file; one event announces
    # the whole arrangement, without who entered it, for the ledger's and feedback's copies.
    assert not table.exists()
    row = stored(client)[2027]
    assert row.updated_by == "县级管理员" and [c["action"] for c in row.changes] == ["create"]  # words, never the id
    assert year["updated_by"] == "县级管理员" and "tester" not in r.text
    [event] = announced(client)
    assert event.type == "workcal.year_entered.v1" and event.subject == "2027" and event.community == "jinxi"
    assert event.data["holidays"] == BODY["holidays"] and event.data["workdays"] == BODY["workdays"]
    assert "county_operator-tester" not in event.to_bytes().decode() and "updated_by" not in event.data

    # A correction: a newer version, its history kept, announced again.
    fixed = client.put("/v1/workcal/years/2027", json={**BODY, "holidays": BODY["holidays"][:1]}, headers=county)
    assert fixed.status_code == 200 and [c["action"] for c in fixed.json()["changes"]] == ["create", "update"]
    first, second = announced(client)
    assert holidays.supersedes(second.data["updated_at"], first.data["updated_at"])
    assert holidays.years()[2027].holidays == {dt.date(2027, 1, 1)}  # this replica at once

    # Another replica (a fresh process) sees the row of record at start: nothing lives on one pod's disk.
    holidays.reset()
    workcal.clear_cache()
    assert workcal.source_of(2027) is None
    client.portal.call(workcal_store.refresh, client.app.state.ctx.db, workcal_years)
    assert workcal.source_of(2027) == "county" and not workcal.is_workday(dt.date(2027, 1, 1))


def stored(client) -> dict:
    async def read():
        async with client.app.state.ctx.db.session() as s:
            return await workcal_store.load(s, workcal_years)

    return client.portal.call(read)


def announced(client) -> list[Envelope]:
    async def read():
        async with client.app.state.ctx.db.session() as s:
            rows = (await s.exec(bus_tables.outbox.select().order_by(bus_tables.outbox.c.id))).all()
        return [Envelope.from_bytes(r.body) for r in rows]

    return [e for e in client.portal.call(read) if e.type == workcal_store.EVENT]


def test_readyz_says_in_words_when_the_next_90_days_are_not_covered(client):
    body = client.get("/readyz").json()
    today = dt.datetime.now(workcal.TZ).date()
    expected = workcal.coverage_warning(today)
    assert body.get("warnings") == ([expected] if expected else None)
    if expected:
        assert "工作日历未覆盖" in expected and "Monday-Friday" in expected
