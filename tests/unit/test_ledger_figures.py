"""Figures on constructed datasets whose answers are known by hand (docs/figures.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.feedback import domain as feedback_domain
from services.ledger.figures import Fact, Rating, compute, grouped, handling_workdays, latest_ratings

pytestmark = pytest.mark.unit

TZ = dt.timezone(dt.timedelta(hours=8))


def fact(n: int, *, state: str = "closed", community: str = "jinshan", level: str = "yellow", **kw) -> Fact:
    created = kw.pop("created_at", dt.datetime(2026, 3, 2, 9, tzinfo=TZ))
    return Fact(
        matter_id=kw.pop("matter_id", f"mat_{community}_{n}"),
        community=community,
        compound=kw.pop("compound", "jinghuhuayuan"),
        category=kw.pop("category", "lighting"),
        level=level,
        state=state,
        round=kw.pop("round", 1),
        overdue=kw.pop("overdue", False),
        created_at=created,
        completed_at=kw.pop("completed_at", dt.datetime(2026, 3, 6, 15, tzinfo=TZ) if state != "in_progress" else None),
        deadline=kw.pop("deadline", dt.datetime(2026, 3, 20, 18, tzinfo=TZ)),
    )


def test_the_articles_headline_536_matters_521_completed():
    facts = [fact(i) for i in range(521)] + [fact(521 + i, state="in_progress") for i in range(15)]
    row = compute(facts, [])
    assert (row.entries, row.completed) == (536, 521)
    assert row.completion_rate == 0.972  # 521 / 536 = 0.97201...
    assert row.satisfaction_rate is None and row.households_evaluated == 0


def test_each_rate_on_a_small_hand_counted_set():
    late = dt.datetime(2026, 3, 25, 10, tzinfo=TZ)
    facts = [
        fact(1, state="closed"),  # on time, 4 workdays (Mar 3, 4, 5, 6)
        fact(2, state="evaluated", completed_at=late),  # late; Mar 2 -> Mar 25 = 17 workdays
        fact(3, state="completed", round=2),  # on time, reopened once before
        fact(4, state="in_progress", overdue=True),
        fact(5, state="reopened", round=2, completed_at=None),
    ]
    row = compute(facts, [])
    assert row.entries == 5 and row.completed == 3
    assert row.completion_rate == 0.6
    assert row.on_time_rate == round(2 / 3, 4)
    assert row.reopen_rate == 0.4
    assert row.overdue_open == 1
    assert row.avg_handling_workdays == round((4 + 17 + 4) / 3, 2)
    assert handling_workdays(facts[1]) == 17


def test_handling_time_counts_workdays_across_spring_festival():
    f = fact(1, created_at=dt.datetime(2026, 2, 12, 9, tzinfo=TZ), completed_at=dt.datetime(2026, 2, 25, 9, tzinfo=TZ))
    # Feb 13, Feb 14 (make-up Saturday), Feb 24, Feb 25: the festival Feb 15-23 does not count.
    assert handling_workdays(f) == 4


def test_satisfaction_is_the_feedback_definition():
    facts = [fact(1, matter_id="m1"), fact(2, matter_id="m2")]
    ratings = [
        Rating("m1", 1, "hh_a", "unsatisfied"),
        Rating("m1", 1, "hh_a", "satisfied"),  # re-rated after a revisit: the latest counts
        Rating("m1", 1, "hh_b", "basically_satisfied"),
        Rating("m1", 1, "hh_c", "unsatisfied"),
        Rating("m2", 1, "hh_a", "satisfied"),  # another matter: a separate household evaluation
        Rating("m_other", 1, "hh_z", "unsatisfied"),  # not in the set
    ]
    row = compute(facts, ratings)
    assert row.households_evaluated == 4 and row.satisfaction_rate == 0.75
    # The same numbers through feedback's own function, one matter at a time.
    m1 = [feedback_domain.Evaluation(r.household, r.rating) for r in ratings if r.matter_id == "m1"]
    assert feedback_domain.satisfaction_rate(m1) == pytest.approx(2 / 3)
    pooled = [r for r in latest_ratings(ratings) if r.matter_id in ("m1", "m2")]
    assert sum(r.rating != "unsatisfied" for r in pooled) / len(pooled) == row.satisfaction_rate


def test_group_by_community_and_level():
    facts = [
        *[fact(i, community="jinshan", level="red") for i in range(3)],
        fact(3, community="jinshan", level="yellow", state="in_progress"),
        *[fact(i, community="xueyuan", level="yellow") for i in range(4)],
        fact(9, community="xueyuan", level="yellow", state="in_progress"),
    ]
    rows = grouped(facts, [], ["community", "level"])
    got = {(r.key["community"], r.key["level"]): (r.entries, r.completed, r.completion_rate) for r in rows}
    assert got == {
        ("jinshan", "red"): (3, 3, 1.0),
        ("jinshan", "yellow"): (1, 0, 0.0),
        ("xueyuan", "yellow"): (5, 4, 0.8),
    }
    county = compute(facts, [])
    assert (county.entries, county.completed, county.completion_rate) == (9, 7, round(7 / 9, 4))


def test_group_by_month_uses_beijing_time():
    late_night = dt.datetime(2026, 3, 31, 17, 30, tzinfo=dt.UTC)  # 01:30 on Apr 1 in Beijing
    rows = grouped([fact(1, created_at=late_night), fact(2)], [], ["month"])
    assert [(r.key["month"], r.entries) for r in rows] == [("2026-03", 1), ("2026-04", 1)]


def test_empty_denominators_are_null():
    row = compute([], [])
    assert row.completion_rate is None and row.on_time_rate is None and row.avg_handling_workdays is None
