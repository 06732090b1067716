"""Unit tests for the ledger entry state machine and its working-day clocks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from services.ledger.domain import (
    ACTIONS,
    STATES,
    TRANSITIONS,
    DeadlinePolicy,
    IllegalTransition,
    allowed_actions,
    deadline_for,
    deadline_status,
    first_action_due,
    transition,
)

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")

# The specification, written out independently of the module so a typo in either is caught.
LEGAL = {
    ("registered", "assign"): "assigned",
    ("assigned", "claim"): "claimed",
    ("assigned", "start"): "in_progress",
    ("assigned", "escalate"): "escalated",
    ("claimed", "start"): "in_progress",
    ("claimed", "escalate"): "escalated",
    ("in_progress", "progress"): "in_progress",
    ("in_progress", "escalate"): "escalated",
    ("in_progress", "complete"): "completed",
    ("escalated", "return"): "in_progress",
    ("escalated", "progress"): "escalated",
    ("completed", "evaluate_satisfied"): "evaluated",
    ("completed", "evaluate_unsatisfied"): "reopened",
    ("evaluated", "evaluate_unsatisfied"): "reopened",
    ("evaluated", "close"): "closed",
    ("reopened", "assign"): "assigned",
    ("reopened", "start"): "in_progress",
}


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 18, 0, tzinfo=SH)


# --- state machine ---------------------------------------------------------------------------


def test_transition_table_matches_spec_exactly():
    table = {(s, a): t for s, edges in TRANSITIONS.items() for a, t in edges.items()}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(STATES)


def test_transitions_are_read_only():
    with pytest.raises(TypeError):
        TRANSITIONS["closed"]["reopen"] = "reopened"  # type: ignore[index]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_state_action_pair(state: str, action: str):
    expected_allowed = sorted(a for (s, a) in LEGAL if s == state)
    if (state, action) in LEGAL:
        assert transition(state, action) == LEGAL[(state, action)]
    else:
        with pytest.raises(IllegalTransition) as exc:
            transition(state, action)
        assert exc.value.state == state
        assert exc.value.action == action
        assert exc.value.allowed == expected_allowed
    assert allowed_actions(state) == expected_allowed


@pytest.mark.parametrize(
    "state", ["registered", "assigned", "claimed", "in_progress", "escalated", "completed", "reopened"]
)
def test_close_only_from_evaluated(state: str):
    with pytest.raises(IllegalTransition):
        transition(state, "close")
    assert transition("evaluated", "close") == "closed"


def test_claim_accepts_once_and_completion_needs_work_in_progress():
    # Issue 22: claim left the entry assigned, could be repeated, and complete was allowed before any work.
    assert transition("assigned", "claim") == "claimed"
    with pytest.raises(IllegalTransition):
        transition("claimed", "claim")
    for state in ("registered", "assigned", "claimed", "escalated", "reopened"):
        with pytest.raises(IllegalTransition):
            transition(state, "complete")
    assert transition(transition("claimed", "start"), "complete") == "completed"


def test_closed_is_final():
    assert allowed_actions("closed") == []
    with pytest.raises(IllegalTransition) as exc:
        transition("closed", "evaluate_unsatisfied")
    assert "none" in str(exc.value)


def test_full_happy_path_with_escalation_and_reopen():
    path = [
        "assign",
        "claim",
        "start",
        "escalate",
        "progress",
        "return",
        "complete",
        "evaluate_unsatisfied",
        "start",
        "complete",
        "evaluate_satisfied",
        "close",
    ]
    state = "registered"
    for action in path:
        state = transition(state, action)
    assert state == "closed"


def test_illegal_transition_message_is_bilingual():
    with pytest.raises(IllegalTransition) as exc:
        transition("completed", "close")
    msg = str(exc.value)
    assert "已办结" in msg and "不允许" in msg
    assert "illegal transition" in msg and "'close'" in msg
    assert "evaluate_satisfied, evaluate_unsatisfied" in msg
    assert isinstance(exc.value, ValueError)


def test_unknown_state_and_action():
    with pytest.raises(IllegalTransition) as exc:
        transition("archived", "close")
    assert exc.value.allowed == []
    with pytest.raises(IllegalTransition):
        transition("registered", "teleport")
    with pytest.raises(ValueError):
        allowed_actions("archived")


# --- calendar facts the deadline tests rely on (checked against the library, not assumed) -----


def test_calendar_facts_2026():
    # National Day + Mid-Autumn 2026: Oct 1-7 off; Oct 8 (Thu) back at work; Sat Oct 10 is a make-up day.
    for day in range(1, 8):
        assert not chinese_calendar.is_workday(dt.date(2026, 10, day))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 9))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # 调休 Saturday
    assert not chinese_calendar.is_workday(dt.date(2026, 10, 11))
    assert chinese_calendar.is_workday(dt.date(2026, 9, 30))
    # Spring Festival 2026: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are make-up workdays.
    for day in range(15, 24):
        assert not chinese_calendar.is_workday(dt.date(2026, 2, day))
    assert chinese_calendar.is_workday(dt.date(2026, 2, 13))
    assert chinese_calendar.is_workday(dt.date(2026, 2, 14))
    assert chinese_calendar.is_workday(dt.date(2026, 2, 24))


# --- deadlines -------------------------------------------------------------------------------


def test_default_policy():
    p = DeadlinePolicy()
    assert (p.red_first_action_hours, p.red_complete_workdays) == (4, 3)
    assert (p.yellow_complete_workdays, p.green_complete_workdays, p.warn_workdays_before) == (15, 20, 2)


def test_deadline_ordinary_week():
    # Mon 2026-03-02: 3 workdays later is Thu 03-05.
    assert deadline_for("red", at(2026, 3, 2)) == eod(2026, 3, 5)


def test_red_deadline_across_national_day():
    # Tue 09-29 -> 09-30 (1), 10-08 (2), 10-09 (3): the seven holidays do not count.
    assert deadline_for("red", at(2026, 9, 29)) == eod(2026, 10, 9)


def test_deadline_lands_on_make_up_saturday():
    # Thu 10-08 -> 10-09 (1), Sat 10-10 (2, 调休) -> the deadline is that Saturday evening.
    policy = DeadlinePolicy(red_complete_workdays=2)
    deadline = deadline_for("red", at(2026, 10, 8), policy)
    assert deadline == eod(2026, 10, 10)
    assert deadline.weekday() == 5


def test_red_deadline_across_spring_festival():
    # Fri 02-13 -> Sat 02-14 (1, 调休), 02-24 (2), 02-25 (3).
    assert deadline_for("red", at(2026, 2, 13)) == eod(2026, 2, 25)


def test_start_on_a_holiday_counts_the_next_workday_as_day_one():
    # Reported on 10-03 (holiday): 10-08 (1), 10-09 (2), Sat 10-10 (3, 调休) — not one workday later (issue 15).
    assert deadline_for("red", at(2026, 10, 3)) == eod(2026, 10, 10)


def test_start_is_read_in_shanghai_time():
    # 2026-09-30 20:00 UTC is 10-01 04:00 in Shanghai, a holiday.
    start = dt.datetime(2026, 9, 30, 20, 0, tzinfo=dt.UTC)
    assert deadline_for("red", start) == eod(2026, 10, 10)


def test_yellow_and_green_deadlines_match_a_manual_count():
    start = at(2026, 9, 30)

    def nth_workday(n: int) -> dt.date:
        d, count = start.date(), 0
        while count < n:
            d += dt.timedelta(days=1)
            if chinese_calendar.is_workday(d):
                count += 1
        return d

    assert deadline_for("yellow", start).date() == nth_workday(15) == dt.date(2026, 10, 27)
    assert deadline_for("green", start).date() == nth_workday(20)


def test_deadline_rejects_bad_input():
    with pytest.raises(ValueError):
        deadline_for("purple", at(2026, 3, 2))
    with pytest.raises(ValueError):
        deadline_for("red", dt.datetime(2026, 3, 2, 10, 0))


def test_first_action_due():
    start = at(2026, 10, 1, 22, 30)
    # Red runs on clock hours, even overnight on a holiday.
    assert first_action_due("red", start) == at(2026, 10, 2, 2, 30)
    assert first_action_due("red", start, DeadlinePolicy(red_first_action_hours=1)) == at(2026, 10, 1, 23, 30)
    assert first_action_due("yellow", start) is None
    assert first_action_due("green", start) is None


# --- deadline status -------------------------------------------------------------------------

DEADLINE = eod(2026, 10, 9)  # Fri, after the National Day holiday


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2026, 9, 28), "on_track"),  # 09-29, 09-30, 10-08, 10-09 still ahead
        (at(2026, 9, 29), "on_track"),  # 3 workdays ahead
        (at(2026, 9, 30), "warning"),  # only 10-08 and 10-09 ahead: the holiday does not buy time
        (at(2026, 10, 5), "warning"),
        (at(2026, 10, 9, 17, 59), "warning"),
        (eod(2026, 10, 9), "warning"),  # exactly at the deadline is not yet late
        (at(2026, 10, 9, 18, 1), "overdue"),
        (at(2026, 10, 12), "overdue"),
    ],
)
def test_deadline_status_clock(now: dt.datetime, expected: str):
    assert deadline_status(DEADLINE, now, "in_progress") == expected


@pytest.mark.parametrize("state", ["completed", "evaluated", "closed"])
def test_deadline_status_done_even_when_late(state: str):
    assert deadline_status(DEADLINE, at(2026, 11, 1), state) == "done"


@pytest.mark.parametrize("state", ["registered", "assigned", "escalated", "reopened"])
def test_deadline_status_open_states_run_the_clock(state: str):
    assert deadline_status(DEADLINE, at(2026, 11, 1), state) == "overdue"


def test_deadline_status_custom_warning_window():
    policy = DeadlinePolicy(warn_workdays_before=5)
    assert deadline_status(DEADLINE, at(2026, 9, 25), "in_progress", policy) == "warning"
    assert deadline_status(DEADLINE, at(2026, 9, 25), "in_progress") == "on_track"


def test_deadline_status_compares_across_timezones():
    now_utc = dt.datetime(2026, 10, 9, 10, 30, tzinfo=dt.UTC)  # 18:30 in Shanghai
    assert deadline_status(DEADLINE, now_utc, "assigned") == "overdue"


def test_deadline_status_rejects_unknown_state():
    with pytest.raises(ValueError):
        deadline_status(DEADLINE, at(2026, 10, 1), "archived")
