"""Working-day arithmetic: N workdays after a day is the N-th official workday strictly after it."""

from __future__ import annotations

import datetime as dt

import pytest

from services.feedback.domain import revisit_due
from services.ledger.domain import TZ, deadline_for
from services.runtime import workcal

pytestmark = pytest.mark.unit

D = dt.date


def eod(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 18, 0, tzinfo=TZ)


def test_the_issue_example_saturday_plus_fifteen_is_friday():
    # Issue 15: 15 working days from Saturday 2026-12-05 is Friday 2026-12-25, not Monday 12-28.
    assert workcal.add_workdays(D(2026, 12, 5), 15) == D(2026, 12, 25)
    assert workcal.add_workdays(D(2026, 12, 6), 15) == D(2026, 12, 25)


def test_a_weekend_start_lands_where_the_friday_before_does():
    # Nothing can be done on the weekend, so Sat/Sun starts count like the Friday before them.
    for n in (1, 3, 5, 15, 20):
        assert workcal.add_workdays(D(2026, 12, 5), n) == workcal.add_workdays(D(2026, 12, 4), n)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 12, 4), 15, D(2026, 12, 25)),  # Fri -> Fri three weeks later (unchanged)
        (D(2026, 12, 7), 1, D(2026, 12, 8)),  # Mon + 1 = Tue (unchanged)
        (D(2026, 3, 2), 3, D(2026, 3, 5)),  # Mon + 3 = Thu (unchanged)
        (D(2026, 12, 7), 0, D(2026, 12, 7)),  # n == 0 on a workday is the day itself
        (D(2026, 12, 5), 0, D(2026, 12, 7)),  # n == 0 on a weekend is the next workday
        (D(2026, 12, 5), 1, D(2026, 12, 7)),  # Sat + 1 = Mon, not Tue
    ],
)
def test_weekday_and_weekend_starts(start: dt.date, n: int, expected: dt.date):
    assert workcal.add_workdays(start, n) == expected


def test_holiday_start_counts_the_first_workday_after_it_as_day_one():
    # 国庆 2026: Oct 1-7 off; Thu 10-08 is the 1st workday after Sat 10-03, Fri 10-09 the 2nd,
    # Sat 10-10 (调休, a make-up workday) the 3rd.
    assert workcal.add_workdays(D(2026, 10, 3), 1) == D(2026, 10, 8)
    assert workcal.add_workdays(D(2026, 10, 3), 3) == D(2026, 10, 10)


def test_make_up_workdays_on_weekends_still_count():
    # 春节 2026: Sat 02-14 is a make-up workday; Feb 15-23 off; Sat 02-28 is a make-up workday.
    assert workcal.add_workdays(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert workcal.add_workdays(D(2026, 2, 14), 1) == D(2026, 2, 24)  # the 调休 Saturday is a workday start
    assert workcal.add_workdays(D(2026, 2, 15), 1) == D(2026, 2, 24)  # holiday start: next workday is day 1
    assert workcal.add_workdays(D(2026, 2, 22), 5) == D(2026, 2, 28)  # Sun 22 -> 24,25,26,27, Sat 28 (调休)
    assert workcal.add_workdays(D(2026, 9, 19), 1) == D(2026, 9, 20)  # Sat -> Sun 09-20 (调休)


def test_add_agrees_with_a_plain_count_from_every_start_of_a_year():
    # Brute force over 2026: the result is exactly the n-th workday strictly after the start.
    day = D(2026, 1, 1)
    while day.year == 2026:
        for n in (1, 3, 15):
            got = workcal.add_workdays(day, n)
            assert workcal.is_workday(got)
            assert workcal.workdays_between(day, got) == n
            assert workcal.workdays_between(day, got - dt.timedelta(days=1)) == n - 1
        day += dt.timedelta(days=1)


def test_ledger_deadline_from_a_saturday_report():
    # A yellow matter reported on Saturday 12-05 has 15 workdays: 18:00 Friday 12-25.
    assert deadline_for("yellow", dt.datetime(2026, 12, 5, 10, 0, tzinfo=TZ)) == eod(2026, 12, 25)


def test_feedback_revisit_due_from_a_weekend_completion():
    # Completed on Sunday 12-06: a home visit (3 workdays) is due Wednesday 12-09, not Thursday.
    assert revisit_due(dt.datetime(2026, 12, 6, 15, 0, tzinfo=TZ), "home_visit") == eod(2026, 12, 9)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        workcal.add_workdays(D(2026, 12, 7), -1)
