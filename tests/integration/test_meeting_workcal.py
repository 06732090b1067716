"""The working calendar's page and the county's holiday table through the meeting app; /readyz says the gaps."""

# ruff: noqa: F811 - the `client` fixture is imported from test_meeting_api and used as a parameter

from __future__ import annotations

import datetime as dt

import pytest

from services.meeting import domain, planner
from services.runtime import holidays, workcal
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
    holidays._state.update(years=None, checked=0.0, mtime=None, path=None)
    workcal.clear_cache()
    yield tmp_path / "holidays.yaml"
    holidays._state.update(years=None, checked=0.0, mtime=None, path=None)
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
    assert not table.exists()

    r = client.put("/v1/workcal/years/2027", json=BODY, headers=county)
    assert r.status_code == 200, r.text
    year = r.json()
    assert year["source"] == "county" and year["notice"] == BODY["source"] and year["changes"][0]["action"] == "create"
    page = client.get("/v1/workcal", headers=token()).json()
    assert page["covered"] is True and page["warning"] is None
    # Deadlines and fixed days now count the county's days: 4 January 2027 (Mon) follows 31 December's 1 workday.
    assert workcal.add_workdays(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)
    assert workcal.is_workday(dt.date(2027, 1, 9))


def test_readyz_says_in_words_when_the_next_90_days_are_not_covered(client):
    body = client.get("/readyz").json()
    today = dt.datetime.now(workcal.TZ).date()
    expected = workcal.coverage_warning(today)
    assert body.get("warnings") == ([expected] if expected else None)
    if expected:
        assert "工作日历未覆盖" in expected and "Monday-Friday" in expected
