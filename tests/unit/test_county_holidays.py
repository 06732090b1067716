"""The county's holiday/调休 table: validated, audited, used by the working calendar, and its gaps said in words."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from services.runtime import holidays, workcal

pytestmark = pytest.mark.unit

# A fictional arrangement for a year no package knows (test data only: never shipped, never a real notice).
YEAR = 2031
SOURCE = "测试用安排（非真实通知）"
OFF = [dt.date(YEAR, 1, 1), dt.date(YEAR, 1, 2)]  # Wednesday, Thursday
ON = [dt.date(YEAR, 1, 4)]  # a Saturday worked


@pytest.fixture
def table(tmp_path, monkeypatch):
    path = tmp_path / "holidays.yaml"
    monkeypatch.setenv(holidays.ENV_VAR, str(path))
    holidays._state.update(years=None, checked=0.0, mtime=None, path=None)
    workcal.clear_cache()
    yield path
    holidays._state.update(years=None, checked=0.0, mtime=None, path=None)
    workcal.clear_cache()


def test_a_year_the_county_enters_is_used_everywhere_and_audited(table):
    assert workcal.source_of(YEAR) is None and workcal.is_workday(dt.date(YEAR, 1, 2))  # Mon-Fri fallback
    saved = holidays.save(YEAR, SOURCE, OFF, ON, by="county-operator-1")
    assert saved.source == SOURCE and saved.updated_by == "county-operator-1"
    assert workcal.source_of(YEAR) == "county"
    assert not workcal.is_workday(dt.date(YEAR, 1, 2)) and workcal.is_workday(dt.date(YEAR, 1, 4))
    assert workcal.add_workdays(dt.date(YEAR - 1, 12, 31), 1) == dt.date(YEAR, 1, 3)  # Tue -> Fri
    assert workcal.workdays_between(dt.date(YEAR - 1, 12, 31), dt.date(YEAR, 1, 5)) == 2  # Fri 3, Sat 4
    # A correction: the audit keeps both changes, the file stays readable YAML.
    holidays.save(YEAR, SOURCE, OFF[:1], ON, by="county-operator-2")
    data = yaml.safe_load(table.read_text(encoding="utf-8"))["years"][YEAR]
    assert [c["action"] for c in data["changes"]] == ["create", "update"]
    assert [c["by"] for c in data["changes"]] == ["county-operator-1", "county-operator-2"]
    assert workcal.is_workday(dt.date(YEAR, 1, 2))  # the cached answer was forgotten


@pytest.mark.parametrize(
    ("source", "off", "on", "field"),
    [
        ("", OFF, ON, "source"),
        (SOURCE, [dt.date(YEAR + 1, 1, 1)], ON, "holidays"),
        (SOURCE, OFF, [dt.date(YEAR, 1, 6)], "workdays"),  # a Monday cannot be a 调休 workday
        (SOURCE, OFF, [OFF[0]], "workdays"),
        (SOURCE, [], ON, "holidays"),
        (SOURCE, OFF + OFF[:1], ON, "holidays"),
    ],
)
def test_an_arrangement_that_cannot_be_official_is_refused_and_nothing_is_written(table, source, off, on, field):
    with pytest.raises(holidays.HolidayError) as err:
        holidays.save(YEAR, source, off, on, by="op")
    assert err.value.field == field and err.value.zh and err.value.en
    assert not table.exists()


def test_the_next_90_days_uncovered_are_said_in_words(table):
    assert workcal.coverage_warning(dt.date(2026, 6, 1)) is None  # the library knows 2026
    words = workcal.coverage_warning(dt.date(2026, 12, 7))
    assert words is not None and "2027年" in words and "2027-01-01" in words and "Monday-Friday" in words
    assert workcal.uncovered(dt.date(2026, 12, 7)) == [2027]
