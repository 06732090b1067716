"""Figures from counts: the formulas of docs/figures.md on counts known by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ledger.figures import Tally, _key, rate

pytestmark = pytest.mark.unit


def test_the_articles_headline_536_matters_521_completed():
    row = Tally(entries=536, completed=521).row()
    assert row.open == 15  # the backlog: not yet done
    assert (row.entries, row.completed) == (536, 521)
    assert row.completion_rate == 0.972  # 521 / 536 = 0.97201...
    assert row.satisfaction_rate is None and row.households_evaluated == 0


def test_each_rate_from_its_counts():
    t = Tally(entries=5, completed=3, timed=3, on_time=2, reopened=2, overdue_open=1, handled=3, handling_workdays=25)
    t.add(Tally(rated=4, good=3))
    row = t.row({"community": "jinshan"})
    assert row.key == {"community": "jinshan"}
    assert (row.completion_rate, row.on_time_rate, row.reopen_rate) == (0.6, round(2 / 3, 4), 0.4)
    assert row.avg_handling_workdays == round(25 / 3, 2)
    assert (row.satisfaction_rate, row.households_evaluated, row.overdue_open) == (0.75, 4, 1)


def test_empty_denominators_are_null_never_zero():
    row = Tally().row()
    assert row.completion_rate is None and row.on_time_rate is None and row.avg_handling_workdays is None
    assert row.reopen_rate is None and row.satisfaction_rate is None
    assert rate(0, 3) == 0.0 and rate(3, 0) is None


def test_group_keys_keep_the_requested_order_and_month_comes_from_the_registration_day():
    day = dt.date(2026, 4, 1)
    assert _key(["level", "month", "community"], ["red", "jinshan"], day) == ("red", "2026-04", "jinshan")
    assert _key(["community"], ["xueyuan"], None) == ("xueyuan",)
