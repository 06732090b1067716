"""Pure rules of the handling ledger entry (办理台账): its state machine and its working-day clocks.

No I/O and no framework imports: the service layer persists entries and calls these functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import get_args
from zoneinfo import ZoneInfo

from services.contracts import labels, vocabulary
from services.contracts.vocabulary import LedgerState
from services.runtime import workcal

TZ = ZoneInfo("Asia/Shanghai")
# Deadlines fall at the close of the office day, so a unit has the whole N-th workday to finish.
END_OF_DAY = dt.time(18, 0)

LEVELS = get_args(vocabulary.Level)
STATES: tuple[str, ...] = get_args(LedgerState)
ACTIONS = (
    "assign",
    "claim",
    "start",
    "progress",
    "escalate",
    "return",
    "complete",
    "evaluate_satisfied",
    "evaluate_unsatisfied",
    "close",
)
# States in which the responsible unit's work is finished, so no deadline clock runs.
# "merged" (合并): the matter was merged into another by staff; its entry is closed and counts in no figure.
DONE_STATES = frozenset({"completed", "evaluated", "closed", "merged"})

STATE_LABELS_ZH = labels.zh_map("ledger_state")

_TRANSITIONS: dict[str, dict[str, str]] = {
    "registered": {"assign": "assigned"},
    # Claiming (认领) is the lead unit accepting responsibility; work has not started yet. Starting at once
    # claims too (the API records the starter's unit as lead). A session may escalate (转办) an unclaimed matter.
    "assigned": {"claim": "claimed", "start": "in_progress", "escalate": "escalated"},
    "claimed": {"start": "in_progress", "escalate": "escalated"},
    # Completion only from work in progress: a unit cannot finish what it never started.
    "in_progress": {"progress": "in_progress", "escalate": "escalated", "complete": "completed"},
    # An escalated (转办) matter is tracked while the department works, then comes back for the lead unit to
    # verify (return) before it completes it: the department never completes the lead unit's entry.
    "escalated": {"progress": "escalated", "return": "in_progress"},
    "completed": {"evaluate_satisfied": "evaluated", "evaluate_unsatisfied": "reopened"},
    # A late unsatisfied evaluation still reopens: rectification goes on until residents are satisfied.
    "evaluated": {"evaluate_unsatisfied": "reopened", "close": "closed"},
    # A new round is assigned again (directly, by a session, or to the party organisation), or the lead unit
    # takes up rectification at once.
    "reopened": {"assign": "assigned", "start": "in_progress"},
    # Crossed off (销号) is final; so is merged (合并): the surviving matter's entry carries the work.
    "closed": {},
    "merged": {},
}

TRANSITIONS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {state: MappingProxyType(edges) for state, edges in _TRANSITIONS.items()}
)


class IllegalTransition(ValueError):
    """An action that the ledger state machine does not allow from the current state."""

    def __init__(self, state: str, action: str) -> None:
        self.state = state
        self.action = action
        self.allowed: list[str] = sorted(TRANSITIONS[state]) if state in TRANSITIONS else []
        allowed = ", ".join(self.allowed) or "无 none"
        label = STATE_LABELS_ZH.get(state, "未知状态")
        super().__init__(
            f"台账状态「{label}」下不允许操作「{action}」(可用操作: {allowed}) / "
            f"illegal transition: action {action!r} is not allowed in state {state!r} (allowed: {allowed})"
        )


def allowed_actions(state: str) -> list[str]:
    """Return the sorted actions legal from `state`; unknown states raise ValueError."""
    if state not in TRANSITIONS:
        raise ValueError(f"unknown ledger state {state!r}")
    return sorted(TRANSITIONS[state])


def transition(state: str, action: str) -> str:
    """Return the state reached by `action` from `state`, or raise IllegalTransition."""
    try:
        return TRANSITIONS[state][action]
    except KeyError:
        raise IllegalTransition(state, action) from None


@dataclass(frozen=True)
class DeadlinePolicy:
    """Configurable time limits (办结时限); the defaults follow common community practice."""

    red_first_action_hours: int = 4
    red_complete_workdays: int = 3
    yellow_complete_workdays: int = 15
    green_complete_workdays: int = 20
    warn_workdays_before: int = 2

    def complete_workdays(self, level: str) -> int:
        """Return the number of workdays allowed to complete a matter of `level`."""
        _check_level(level)
        return {
            "red": self.red_complete_workdays,
            "yellow": self.yellow_complete_workdays,
            "green": self.green_complete_workdays,
        }[level]


DEFAULT_POLICY = DeadlinePolicy()


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")


def _local(moment: dt.datetime) -> dt.datetime:
    # Naive datetimes are ambiguous across servers; refuse them rather than guess.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(TZ)


def end_of_workday_after(start: dt.datetime, workdays: int) -> dt.datetime:
    """Return 18:00 Asia/Shanghai of the `workdays`-th workday after `start`'s local date."""
    day = workcal.add_workdays(_local(start).date(), workdays)
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=TZ)


def deadline_for(level: str, start: dt.datetime, policy: DeadlinePolicy = DEFAULT_POLICY) -> dt.datetime:
    """Return the completion deadline: 18:00 of the N-th workday after `start` (N by level)."""
    return end_of_workday_after(start, policy.complete_workdays(level))


def first_action_due(level: str, start: dt.datetime, policy: DeadlinePolicy = DEFAULT_POLICY) -> dt.datetime | None:
    """Return when the first response to a red matter is due (clock hours); None for other levels."""
    _check_level(level)
    if level != "red":
        return None
    # Red matters are urgent and dangerous: the clock runs around the clock, holidays included.
    return _local(start) + dt.timedelta(hours=policy.red_first_action_hours)


def deadline_status(
    deadline: dt.datetime, now: dt.datetime, state: str, policy: DeadlinePolicy = DEFAULT_POLICY
) -> str:
    """Classify an entry as 'done', 'overdue', 'warning' or 'on_track' against its deadline."""
    if state not in TRANSITIONS:
        raise ValueError(f"unknown ledger state {state!r}")
    if state in DONE_STATES:
        return "done"
    deadline, now = _local(deadline), _local(now)
    if now > deadline:
        return "overdue"
    # Count the workdays still ahead (today excluded) so a warning is not triggered by a long holiday.
    if workcal.workdays_between(now.date(), deadline.date()) <= policy.warn_workdays_before:
        return "warning"
    return "on_track"
