"""The county's holiday/调休 table: validated, audited, merged newest-wins, used by workcal, gaps said in words."""

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
T0 = dt.datetime(2030, 12, 7, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def table(tmp_path, monkeypatch):
    path = tmp_path / "holidays.yaml"
    monkeypatch.setenv(holidays.ENV_VAR, str(path))
    holidays.reset()
    workcal.clear_cache()
    yield path
    holidays.reset()
    workcal.clear_cache()


def enter(off=OFF, on=ON, *, by="county-operator-1", at=T0, before=None, source=SOURCE) -> holidays.Year:
    return holidays.entered(YEAR, source, off, on, by=by, at=at, before=before)


def test_a_year_the_county_enters_is_used_everywhere_and_audited(table):
    assert workcal.source_of(YEAR) is None and workcal.is_workday(dt.date(YEAR, 1, 2))  # Mon-Fri fallback
    first = enter()
    holidays.put(first)
    assert first.source == SOURCE and first.updated_by == "county-operator-1"
    assert workcal.source_of(YEAR) == "county"
    assert not workcal.is_workday(dt.date(YEAR, 1, 2)) and workcal.is_workday(dt.date(YEAR, 1, 4))
    assert workcal.add_workdays(dt.date(YEAR - 1, 12, 31), 1) == dt.date(YEAR, 1, 3)  # Tue -> Fri
    assert workcal.workdays_between(dt.date(YEAR - 1, 12, 31), dt.date(YEAR, 1, 5)) == 2  # Fri 3, Sat 4
    # A correction: the audit keeps both changes; the cached answers are forgotten.
    second = enter(OFF[:1], by="county-operator-2", at=T0 + dt.timedelta(hours=1), before=first)
    holidays.put(second)
    assert [c["action"] for c in second.changes] == ["create", "update"]
    assert [c["by"] for c in second.changes] == ["county-operator-1", "county-operator-2"]
    assert workcal.is_workday(dt.date(YEAR, 1, 2))


def test_the_seed_file_is_read_and_a_stored_year_overrides_it(table):
    seed = {"years": {YEAR: {"source": "种子文件", "holidays": [dt.date(YEAR, 1, 1)], "workdays": []}}}
    table.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    assert holidays.years()[YEAR].source == "种子文件" and workcal.is_workday(dt.date(YEAR, 1, 2))
    holidays.install({YEAR: enter()})
    assert holidays.years()[YEAR].source == SOURCE and not workcal.is_workday(dt.date(YEAR, 1, 2))


def test_newer_wins_and_a_late_or_duplicate_version_changes_nothing():
    older, newer = "2030-12-07T02:00:00+00:00", "2030-12-07T10:00:00+08:00"  # the same instant, another offset
    assert holidays.supersedes(older, None)
    assert not holidays.supersedes(older, older)  # a duplicate
    assert not holidays.supersedes(newer, older)  # equal instants: not newer
    assert holidays.supersedes("2030-12-07T02:00:00.000001+00:00", older)
    assert not holidays.supersedes(older, "2030-12-08T00:00:00+00:00")  # a late event
    assert holidays.supersedes(dt.datetime(2030, 12, 8), older)  # naive means UTC


def test_a_new_version_is_stamped_after_the_stored_one_even_when_this_clock_is_behind():
    stored = "2030-12-07T02:00:00+00:00"
    assert holidays.next_stamp(T0 - dt.timedelta(minutes=5), stored) == T0 + dt.timedelta(microseconds=1)
    assert holidays.next_stamp(T0 + dt.timedelta(hours=1), stored) == T0 + dt.timedelta(hours=1)
    assert holidays.next_stamp(T0, None) == T0


def test_the_merge_rules_keep_each_years_newest_version_and_stored_years_over_the_seed():
    a = enter(at=T0)
    b = enter(OFF[:1], at=T0 + dt.timedelta(hours=1), before=a)
    other = holidays.entered(YEAR + 1, SOURCE, [dt.date(YEAR + 1, 1, 1)], [], by="x", at=T0, before=None)
    assert holidays.newest({YEAR: b}, {YEAR: a}) == {YEAR: b}  # a refresh that read the older row
    assert holidays.newest({YEAR: a}, {YEAR: b, YEAR + 1: other}) == {YEAR: b, YEAR + 1: other}
    seed = holidays.Year(YEAR, "种子文件", frozenset(OFF), frozenset())
    assert holidays.overlay({YEAR: seed, YEAR + 1: other}, {YEAR: a}) == {YEAR: a, YEAR + 1: other}


def test_a_late_put_does_not_replace_a_newer_year(table):
    a = enter(at=T0)
    b = enter(OFF[:1], at=T0 + dt.timedelta(hours=1), before=a)
    holidays.put(b)
    holidays.put(a)
    assert holidays.years()[YEAR] == b and workcal.is_workday(dt.date(YEAR, 1, 2))


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
def test_an_arrangement_that_cannot_be_official_is_refused(table, source, off, on, field):
    with pytest.raises(holidays.HolidayError) as err:
        enter(off, on, source=source)
    assert err.value.field == field and err.value.zh and err.value.en
    assert YEAR not in holidays.years()


def test_the_next_90_days_uncovered_are_said_in_words(table):
    assert workcal.coverage_warning(dt.date(2026, 6, 1)) is None  # the library knows 2026
    words = workcal.coverage_warning(dt.date(2026, 12, 7))
    assert words is not None and "2027年" in words and "2027-01-01" in words and "Monday-Friday" in words
    assert workcal.uncovered(dt.date(2026, 12, 7)) == [2027]
