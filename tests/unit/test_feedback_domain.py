"""Unit tests for evaluations, the reopen rule and revisit planning."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from services.feedback.domain import (
    METHODS,
    Evaluation,
    decide,
    latest_per_household,
    needs_reminder,
    plan_methods,
    pooled_satisfaction,
    revisit_due,
    satisfaction_counts,
    satisfaction_rate,
)
from tests.english import CJK, QUOTE, assert_words

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")


def ev(household: str, rating: str, **kw) -> Evaluation:
    return Evaluation(household=household, rating=rating, **kw)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 18, 0, tzinfo=SH)


# --- Evaluation and satisfaction rate -------------------------------------------------------


def test_evaluation_validates_values():
    with pytest.raises(ValueError):
        ev("301", "great")
    with pytest.raises(ValueError):
        ev("301", "satisfied", solved="mostly")
    with pytest.raises(ValueError):
        ev("", "satisfied")
    assert ev("301", "satisfied", solved="partly").solved == "partly"


def test_satisfaction_rate_empty_is_none():
    assert satisfaction_rate([]) is None


def test_satisfaction_rate_counts_basically_satisfied():
    evals = [
        ev("a", "satisfied"),
        ev("b", "basically_satisfied"),
        ev("c", "unsatisfied"),
        ev("d", "satisfied"),
    ]
    assert satisfaction_rate(evals) == pytest.approx(0.75)


def test_satisfaction_rate_one_household_counts_once_last_wins():
    evals = [
        ev("12-2-301", "unsatisfied"),
        ev("12-2-302", "satisfied"),
        ev("12-2-301", "satisfied"),  # re-rated after the revisit: this one counts
        ev("12-2-302", "satisfied"),  # a duplicate vote does not double the weight
        ev("12-2-401", "unsatisfied"),
    ]
    assert satisfaction_rate(evals) == pytest.approx(2 / 3)
    assert [e.household for e in latest_per_household(evals)] == ["12-2-301", "12-2-302", "12-2-401"]


def test_satisfaction_rate_last_wins_downwards_too():
    assert satisfaction_rate([ev("a", "satisfied"), ev("a", "unsatisfied")]) == 0.0


# --- decide ---------------------------------------------------------------------------------


def test_decide_satisfied_at_threshold():
    evals = [ev(str(i), "satisfied") for i in range(4)] + [ev("x", "unsatisfied")]
    d = decide(evals, round=1)
    assert d.outcome == "satisfied"
    assert d.rate == pytest.approx(0.8)
    assert d.reasons and "80%" in d.reasons[0]


def test_decide_reopen_below_threshold():
    evals = [ev(str(i), "satisfied") for i in range(3)] + [ev("x", "unsatisfied"), ev("y", "unsatisfied")]
    d = decide(evals, round=1)
    assert d.outcome == "reopen"
    assert d.rate == pytest.approx(0.6)
    assert any("60%" in r and "80%" in r for r in d.reasons)


def test_decide_custom_threshold():
    evals = [ev("a", "satisfied"), ev("b", "unsatisfied")]
    assert decide(evals, round=1, threshold=0.5).outcome == "satisfied"
    assert decide(evals, round=1, threshold=0.51).outcome == "reopen"


def test_reporter_veto_overrides_a_high_rate_and_quotes_the_comment():
    evals = [ev(str(i), "satisfied") for i in range(9)] + [
        ev("12-2-301", "unsatisfied", solved="unsolved", is_reporter=True, comment="下水道还是堵"),
    ]
    d = decide(evals, round=1)
    assert d.rate == pytest.approx(0.9)
    assert d.outcome == "reopen"
    # The comment is quoted; the household is not (reasons are read by people and reach the ledger's timeline).
    assert any("下水道还是堵" in r for r in d.reasons) and not any("12-2-301" in r for r in d.reasons)


def test_reporter_veto_even_when_the_reporter_rates_satisfied():
    evals = [ev("a", "satisfied", solved="unsolved", is_reporter=True)]
    d = decide(evals, round=1)
    assert d.outcome == "reopen"
    assert any("未解决" in r for r in d.reasons)


def test_non_reporter_unsolved_is_not_a_veto():
    evals = [ev(str(i), "satisfied") for i in range(9)] + [ev("x", "unsatisfied", solved="unsolved")]
    assert decide(evals, round=1).outcome == "satisfied"


def test_reporter_partly_solved_is_not_a_veto():
    evals = [ev("r", "basically_satisfied", solved="partly", is_reporter=True)]
    assert decide(evals, round=1).outcome == "satisfied"


def test_reporter_veto_withdrawn_by_later_evaluation():
    evals = [
        ev("r", "unsatisfied", solved="unsolved", is_reporter=True),
        ev("r", "satisfied", solved="solved", is_reporter=True),
    ]
    assert decide(evals, round=1).outcome == "satisfied"


@pytest.mark.parametrize("round_", [2, 3])
def test_second_reopen_escalates(round_: int):
    low = [ev("a", "unsatisfied"), ev("b", "unsatisfied"), ev("c", "satisfied")]
    d = decide(low, round=round_)
    assert d.outcome == "escalate"
    assert any("党组织" in r for r in d.reasons)
    veto = [ev("r", "unsatisfied", solved="unsolved", is_reporter=True, comment="没修好")]
    assert decide(veto, round=round_).outcome == "escalate"


def test_round_two_satisfied_stays_satisfied():
    assert decide([ev("a", "satisfied")], round=2).outcome == "satisfied"


def test_pending_below_min_evaluations():
    evals = [ev("a", "satisfied"), ev("a", "satisfied"), ev("b", "unsatisfied")]
    d = decide(evals, round=1, min_evaluations=3)  # two distinct households only
    assert d.outcome == "pending"
    assert d.rate == pytest.approx(0.5)
    assert decide([], round=1).outcome == "pending"
    assert decide([], round=1).rate is None


def test_reporter_veto_does_not_wait_for_min_evaluations():
    evals = [ev("r", "unsatisfied", solved="unsolved", is_reporter=True)]
    assert decide(evals, round=1, min_evaluations=5).outcome == "reopen"


def test_decide_rejects_bad_arguments():
    with pytest.raises(ValueError):
        decide([], round=0)
    with pytest.raises(ValueError):
        decide([], round=1, threshold=1.5)


# --- plan_methods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "households", "category", "expected"),
    [
        ("green", 1, "street_light", ["home_visit"]),
        ("yellow", 2, "drain", ["home_visit", "questionnaire"]),
        ("yellow", 3, "drain", ["home_visit", "questionnaire"]),
        ("yellow", 4, "drain", ["questionnaire"]),
        ("red", 1, "drain", ["home_visit"]),
        ("red", 9, "drain", ["home_visit", "questionnaire"]),
        ("yellow", 9, "parking", ["questionnaire"]),
        ("yellow", 10, "road", ["questionnaire", "wechat_vote"]),
        ("yellow", 10, "parking", ["questionnaire", "wechat_vote", "group_forum"]),
        ("green", 12, "elevator", ["questionnaire", "wechat_vote", "group_forum"]),
        ("yellow", 15, "construction", ["questionnaire", "wechat_vote", "group_forum"]),
        ("yellow", 29, "road", ["questionnaire", "wechat_vote"]),
        ("yellow", 30, "road", ["questionnaire", "wechat_vote", "group_forum"]),
        ("red", 200, "elevator", ["home_visit", "questionnaire", "wechat_vote", "group_forum"]),
    ],
)
def test_plan_methods_table(level: str, households: int, category: str, expected: list[str]):
    assert plan_methods(level, households, category) == expected


def test_plan_methods_rejects_bad_input():
    with pytest.raises(ValueError):
        plan_methods("purple", 5, "road")
    with pytest.raises(ValueError):
        plan_methods("red", 0, "road")


# --- revisit_due ----------------------------------------------------------------------------


def test_calendar_facts_used_below():
    assert chinese_calendar.is_workday(dt.date(2026, 9, 30))
    assert not any(chinese_calendar.is_workday(dt.date(2026, 10, d)) for d in range(1, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # 调休 Saturday
    assert chinese_calendar.is_workday(dt.date(2026, 2, 14))  # 调休 Saturday
    assert not any(chinese_calendar.is_workday(dt.date(2026, 2, d)) for d in range(15, 24))


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("home_visit", eod(2026, 10, 10)),  # 10-08, 10-09, Sat 10-10 (调休)
        ("questionnaire", eod(2026, 10, 13)),  # ... 10-12, 10-13
        ("wechat_vote", eod(2026, 10, 13)),
        ("group_forum", eod(2026, 10, 20)),  # ... 10-14, 10-15, 10-16, 10-19, 10-20
    ],
)
def test_revisit_due_across_national_day(method: str, expected: dt.datetime):
    assert revisit_due(dt.datetime(2026, 9, 30, 16, 0, tzinfo=SH), method) == expected


def test_revisit_due_across_spring_festival():
    # Fri 02-13 -> Sat 02-14 (调休), 02-24, 02-25.
    assert revisit_due(dt.datetime(2026, 2, 13, 9, 0, tzinfo=SH), "home_visit") == eod(2026, 2, 25)


def test_revisit_due_ordinary_week_and_bad_input():
    assert revisit_due(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SH), "home_visit") == eod(2026, 3, 5)
    with pytest.raises(ValueError):
        revisit_due(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SH), "telepathy")
    with pytest.raises(ValueError):
        revisit_due(dt.datetime(2026, 3, 2, 9, 0), "home_visit")
    assert set(METHODS) == {"home_visit", "questionnaire", "wechat_vote", "group_forum"}


def test_satisfaction_counts_and_pooled_figure():
    r1 = [
        Evaluation("hh_a", "unsatisfied"),
        Evaluation("hh_b", "satisfied"),
        Evaluation("hh_a", "basically_satisfied"),  # the last voice of hh_a wins
    ]
    r2 = [Evaluation("hh_c", "unsatisfied"), Evaluation("hh_d", "satisfied"), Evaluation("hh_e", "unsatisfied")]
    assert satisfaction_counts(r1) == (2, 2) and satisfaction_counts(r2) == (1, 3)
    assert satisfaction_rate(r1) == 1.0
    # Pooled over households, not the mean of the rates: (2 + 1) / (2 + 3), not (1 + 1/3) / 2.
    assert pooled_satisfaction([r1, r2]) == 3 / 5
    assert pooled_satisfaction([]) is None and pooled_satisfaction([[]]) is None


def test_reminder_is_due_once_from_a_day_before():
    due = dt.datetime(2025, 6, 6, 10, 0, tzinfo=dt.UTC)
    assert not needs_reminder(due, None, due - dt.timedelta(hours=25))
    assert needs_reminder(due, None, due - dt.timedelta(hours=24))
    assert needs_reminder(due, None, due + dt.timedelta(days=3))
    assert not needs_reminder(due, due - dt.timedelta(hours=1), due)


def test_household_key_is_one_per_home_however_typed():
    from services.feedback.domain import household_key
    from services.runtime.directory import load_directory

    compounds = load_directory().community("jinshan").compounds
    typed = ["JTH-3-1-101", "jth-3-1-101", "jth-3-1-101\u200b", "\ufeffＪＴＨ－３－１－１０１", " jth_3.1.101 "]
    assert {household_key(h, compounds) for h in typed} == {"text:jth-3-1-101"}
    room = {
        household_key(h, compounds) for h in ("景湖花园3号楼1单元101室", "jinghuhuayuan 3-1-101", "景湖小区3-1-0101")
    }
    assert room == {"room:jinghuhuayuan/3/1/101"}
    # One-unit buildings need no unit; a unit the building lacks, or an unknown building, is not a directory room.
    assert household_key("景湖花园5-301", compounds) == household_key("景湖花园5-1-301", compounds)
    assert household_key("景湖花园5-2-301", compounds).startswith("text:")
    assert household_key("景湖花园99-1-301", compounds).startswith("text:")
    assert household_key("JTH-3-1-101") == "text:jth-3-1-101"  # no directory at hand: normalised text


# --- the reasons in English words ---------------------------------------------------------------

OUTCOME_CODES = re.compile(r"\b(unsatisfied|reopen|escalate|pending|home_visit|phone)\b")  # "satisfied" is a word too


@pytest.mark.parametrize(
    ("evals", "round_", "kw", "outcome", "english"),
    [
        (
            [ev(str(i), "satisfied") for i in range(4)] + [ev("x", "unsatisfied")],
            1,
            {},
            "satisfied",
            ["Satisfaction 80% meets the 80% required: the matter can be crossed off"],
        ),
        (
            [ev("a", "satisfied"), ev("b", "unsatisfied")],
            1,
            {},
            "reopen",
            [
                "Satisfaction 50% is below the 80% required (2 households evaluated)",
                "Sent back to the responsible unit to put right, then revisited again",
            ],
        ),
        (
            [ev("12-2-301", "unsatisfied", solved="unsolved", is_reporter=True, comment="下水道还是堵")],
            2,
            {},
            "escalate",
            [
                "The person who reported it says it is not solved: “下水道还是堵”",
                "Satisfaction 0% is below the 80% required (1 household evaluated)",
                "Still not satisfied in round 2: passed to the community Party organisation to supervise",
            ],
        ),
        (
            [ev("r", "satisfied", solved="unsolved", is_reporter=True)],
            1,
            {},
            "reopen",
            [
                "The person who reported it says it is not solved (no comment left)",
                "Sent back to the responsible unit to put right, then revisited again",
            ],
        ),
        (
            [ev("a", "satisfied")],
            1,
            {"min_evaluations": 3},
            "pending",
            ["1 household evaluated so far, fewer than the 3 needed: revisits go on"],
        ),
    ],
)
def test_every_reason_has_an_english_twin_in_words(evals, round_, kw, outcome, english):
    d = decide(evals, round=round_, **kw)
    assert d.outcome == outcome
    assert list(d.reasons_en) == english and len(d.reasons_en) == len(d.reasons)
    for zh, en in zip(d.reasons, d.reasons_en, strict=True):
        assert_words(en, codes=OUTCOME_CODES)  # a resident's own comment stays quoted as written
        assert not CJK.search(en.replace("下水道还是堵", "")), en  # only the resident's comment stays Chinese
        for quote in QUOTE.findall(en):
            assert quote[1:-1] in zh
        assert "12-2-301" not in en  # no household, as in the Chinese
