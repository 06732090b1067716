"""Pure meeting scheduling rules: fixed deliberation days, emergency slots and the agenda queue.

No I/O and no framework imports: everything here is a function of its arguments plus the official
working calendar in `services.runtime.workcal`. All datetimes are timezone-aware and are converted to
Asia/Shanghai, the zone every community of the deployment lives in.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.runtime import workcal

TZ = ZoneInfo("Asia/Shanghai")

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY_NAMES = "一二三四五六日"
_NTH = {"1": 1, "2": 2, "3": 3, "4": 4, "一": 1, "二": 2, "三": 3, "四": 4}
_NTH_NAMES = {1: "一", 2: "二", 3: "三", 4: "四"}
_NTH_EN = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_WEEKDAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# One pattern for both rule shapes; NFKC normalisation beforehand folds full-width digits and colons.
_RULE_RE = re.compile(
    r"^每月\s*"
    r"(?:"
    r"(?P<dom>\d{1,2})\s*[日号]"
    r"|(?:第\s*(?P<nth>[1-4一二三四])\s*个?|(?P<last>最后一?个?))\s*(?:星期|周)(?P<wd>[一二三四五六日天])"
    r")"
    r"\s*(?P<hour>\d{1,2}):(?P<minute>\d{2})$"
)

_EXAMPLES = "每月15日 09:00, 每月第二个星期四 14:30, 每月最后一个星期五 09:00"


def ordinal_en(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st, 22nd ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _to_tz(value: datetime, name: str = "datetime") -> datetime:
    """Return `value` in Asia/Shanghai; naive datetimes are rejected because their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} 必须带时区 / must be timezone-aware: {value!r}")
    return value.astimezone(TZ)


@dataclass(frozen=True)
class FixedDayRule:
    """A community's monthly fixed deliberation day (固定议事日)."""

    day_of_month: int | None
    nth: int | None
    weekday: int | None
    at: time

    def __post_init__(self) -> None:
        by_day = self.day_of_month is not None
        by_weekday = self.nth is not None or self.weekday is not None
        if by_day == by_weekday:
            raise ValueError(
                "规则须为「每月N日」或「每月第N个星期X」之一 / "
                "rule needs either day_of_month or (nth, weekday), not both or neither"
            )
        if by_day and not 1 <= self.day_of_month <= 31:
            raise ValueError(f"日期须在1..31 / day_of_month must be 1..31: {self.day_of_month}")
        if by_weekday:
            if self.nth not in (1, 2, 3, 4, -1):
                raise ValueError(f"第N个须为1..4或最后一个(-1) / nth must be 1..4 or -1: {self.nth}")
            if self.weekday is None or not 0 <= self.weekday <= 6:
                raise ValueError(f"星期须为0..6 / weekday must be 0..6: {self.weekday}")
        if self.at.tzinfo is not None:
            # The time is a wall-clock time in the community; a zone here would be ambiguous.
            raise ValueError("时间不应带时区 / `at` must be a naive wall-clock time")

    @classmethod
    def parse(cls, text: str) -> FixedDayRule:
        """Parse e.g. "每月15日 09:00" or "每月第二个星期四 14:30"; ValueError (中文/English) otherwise."""
        normalized = unicodedata.normalize("NFKC", text or "").strip()
        m = _RULE_RE.match(normalized)
        if m is None:
            raise ValueError(
                f"无法识别的固定议事日规则 / unrecognised fixed-day rule: {text!r} (示例/examples: {_EXAMPLES})"
            )
        hour, minute = int(m["hour"]), int(m["minute"])
        if hour > 23 or minute > 59:
            raise ValueError(f"时间无效 / invalid time of day in rule: {text!r}")
        at = time(hour, minute)
        if m["dom"] is not None:
            day = int(m["dom"])
            if not 1 <= day <= 31:
                raise ValueError(f"日期须在1..31 / day of month must be 1..31 in rule: {text!r}")
            return cls(day_of_month=day, nth=None, weekday=None, at=at)
        nth = -1 if m["last"] is not None else _NTH[m["nth"]]
        return cls(day_of_month=None, nth=nth, weekday=_WEEKDAYS[m["wd"]], at=at)

    def __str__(self) -> str:
        """Render the canonical Chinese text, which `parse` reads back to an equal rule."""
        hhmm = self.at.strftime("%H:%M")
        if self.day_of_month is not None:
            return f"每月{self.day_of_month}日 {hhmm}"
        which = "最后一个" if self.nth == -1 else f"第{_NTH_NAMES[self.nth]}个"
        return f"每月{which}星期{_WEEKDAY_NAMES[self.weekday]} {hhmm}"

    def en(self) -> str:
        """The rule in English words: "the first Wednesday of each month, 19:30" (never parsed back)."""
        hhmm = self.at.strftime("%H:%M")
        if self.day_of_month is not None:
            return f"the {ordinal_en(self.day_of_month)} of each month, {hhmm}"
        return f"the {_NTH_EN[self.nth]} {_WEEKDAY_EN[self.weekday]} of each month, {hhmm}"

    def nominal_date(self, year: int, month: int) -> dt.date:
        """Return the rule's date in that month before any holiday shift (day clamped to month end)."""
        first_weekday, days_in_month = calendar.monthrange(year, month)
        if self.day_of_month is not None:
            # "每月31日" must still meet in short months, so it falls on the last day instead.
            return dt.date(year, month, min(self.day_of_month, days_in_month))
        if self.nth == -1:
            last = dt.date(year, month, days_in_month)
            return last - timedelta(days=(last.weekday() - self.weekday) % 7)
        first = 1 + (self.weekday - first_weekday) % 7
        return dt.date(year, month, first + 7 * (self.nth - 1))

    def session_date(self, year: int, month: int) -> dt.date:
        """Return the month's actual session date: the nominal date moved to the next workday if needed."""
        return workcal.next_workday(self.nominal_date(year, month))


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def next_fixed_day(rule: FixedDayRule, after: datetime) -> datetime:
    """Return the first fixed-day session datetime strictly after `after` (holidays shift to next workday)."""
    after = _to_tz(after, "after")
    # Start one month early: a late-month date pushed past a holiday or weekend (e.g. 31 Jan -> 2 Feb)
    # is a real session in `after`'s month and must not be skipped.
    year, month = _add_months(after.year, after.month, -1)
    # A shift never exceeds a holiday's length (< 1 month), so a handful of months always suffices.
    for _ in range(4):
        day = rule.session_date(year, month)
        start = datetime.combine(day, rule.at, tzinfo=TZ)
        if start > after:
            return start
        year, month = _add_months(year, month, 1)
    raise AssertionError("unreachable: every month has a session")  # pragma: no cover


def _ceil_quarter(value: datetime) -> datetime:
    """Round up to the next quarter hour (a value already on a quarter hour stays)."""
    floored = value.replace(minute=value.minute - value.minute % 15, second=0, microsecond=0)
    return floored if floored == value else floored + timedelta(minutes=15)


def emergency_slot(
    now: datetime,
    *,
    within_hours: int = 24,
    lead_minutes: int = 60,
    day_start: time = time(8, 0),
    day_end: time = time(21, 0),
) -> datetime:
    """Return the earliest sensible start for a red matter's emergency session (一事一议)."""
    if not day_start < day_end:
        raise ValueError("day_start 须早于 day_end / day_start must be before day_end")
    if within_hours <= 0 or lead_minutes < 0:
        raise ValueError("within_hours 须 > 0 且 lead_minutes 须 >= 0 / invalid window")
    now = _to_tz(now, "now")
    # The lead gives the five parties time to gather; quarter hours make a time people remember.
    earliest = _ceil_quarter(now + timedelta(minutes=lead_minutes))
    slot = earliest
    # Red matters do not wait for workdays, but nobody is convened in the middle of the night.
    if slot.time() < day_start:
        slot = datetime.combine(slot.date(), day_start, tzinfo=TZ)
    elif slot.time() >= day_end:
        slot = datetime.combine(slot.date() + timedelta(days=1), day_start, tzinfo=TZ)
    # "Immediately" has a hard ceiling: if civil hours would push past it, meet at night after all.
    if slot > now + timedelta(hours=within_hours):
        return earliest
    return slot


def joins_emergency(
    existing_start: datetime,
    existing_compound: str | None,
    compound: str | None,
    now: datetime,
    *,
    candidate: datetime | None = None,
) -> bool:
    """Tell whether a new red matter should join an existing, not yet started emergency session."""
    existing_start = _to_tz(existing_start, "existing_start")
    now = _to_tz(now, "now")
    # Without a compound we cannot know the matters are neighbours, so never merge them blindly.
    if existing_compound is None or compound is None or existing_compound != compound:
        return False
    if existing_start <= now:
        return False
    # The new matter would otherwise get its own slot; one session per hour window per compound.
    slot = emergency_slot(now) if candidate is None else _to_tz(candidate, "candidate")
    return abs(existing_start - slot) < timedelta(hours=1)


# --- agenda ------------------------------------------------------------------------------------------
#
# Agenda rule for the monthly fixed-day session:
#   1. red first, always (red normally gets an emergency session, but if one is handed in it leads);
#   2. then by effective level: yellow (1) before green (2), minus one step per "ageing step";
#      an ageing step is each full 30 days waiting since queued_at, or each carry-over, whichever
#      counts more (a monthly carry-over and 30 days of waiting are the same wait, so they are not
#      added). The effective level may drop below yellow's, so an aged yellow stays ahead of an
#      equally aged green, and nothing waits forever;
#   3. then older first (queued_at);
#   4. then more households affected first;
#   5. then matter_id, so the order is total and reproducible.
# A green item with one step ties a fresh yellow on level and wins on age; with two it outranks it.

AGEING_DAYS = 30
_LEVEL_RANK = {"yellow": 1, "green": 2}


@dataclass(frozen=True)
class AgendaCandidate:
    """A matter waiting for a fixed-day session."""

    matter_id: str
    level: str
    queued_at: datetime
    households: int = 1
    carried_over: int = 0


def ageing_steps(c: AgendaCandidate, now: datetime) -> int:
    """Return how many level-steps `c` has been lifted by waiting (full 30 days or carry-overs)."""
    waited = _to_tz(now, "now") - _to_tz(c.queued_at, "queued_at")
    return max(waited.days // AGEING_DAYS if waited > timedelta(0) else 0, c.carried_over, 0)


def priority(c: AgendaCandidate, now: datetime) -> tuple:
    """Return the agenda sort key of `c` at `now`; smaller sorts earlier (see the agenda rule above)."""
    level = c.level.strip().lower()
    queued_at = _to_tz(c.queued_at, "queued_at")
    if level == "red":
        return (0, 0, queued_at, -c.households, c.matter_id)
    if level not in _LEVEL_RANK:
        raise ValueError(f"未知等级 / unknown level for agenda: {c.level!r} (red/yellow/green)")
    effective = _LEVEL_RANK[level] - ageing_steps(c, now)
    return (1, effective, queued_at, -c.households, c.matter_id)


def plan_agenda(
    candidates: Sequence[AgendaCandidate], capacity: int, now: datetime
) -> tuple[list[AgendaCandidate], list[AgendaCandidate]]:
    """Split candidates into (taken, in agenda order) and (rolled over to the next session, in order)."""
    if capacity < 0:
        raise ValueError(f"容量不能为负 / capacity must be >= 0: {capacity}")
    ordered = sorted(candidates, key=lambda c: priority(c, now))
    # Rolled items are returned unchanged; the caller records the carry-over when it persists them.
    return ordered[:capacity], ordered[capacity:]


# --- quorum (法定方) ---------------------------------------------------------------------------------
#
# A session decides only when every party of the hall's quorum (by default all five) is present. Invited
# departments and parties concerned (当事人) sit at the table and state positions, but never make or break it.

FIVE_PARTIES = ("party_org", "owners_committee", "property_company", "resident_rep", "partner_unit")


def clean_attendance(attendance: dict[str, list[str]]) -> dict[str, list[str]]:
    """Attendance with blank names dropped and parties nobody came for left out."""
    cleaned = {party: [n.strip() for n in names if n and n.strip()] for party, names in attendance.items()}
    return {party: names for party, names in cleaned.items() if names}


def missing_parties(quorum: Sequence[str], attendance: dict[str, list[str]]) -> list[str]:
    """The quorum parties nobody attended for, in quorum order (empty: the session may decide)."""
    for party in quorum:
        if party not in FIVE_PARTIES:
            raise ValueError(f"法定方只能是五方之一 / the quorum counts the five parties only: {party!r}")
    present = clean_attendance(attendance)
    return [party for party in quorum if not present.get(party)]


def may_conclude(kind: str, starts_at: datetime, now: datetime) -> bool:
    """Tell whether a session may be concluded at `now`: on or after its day (Asia/Shanghai).

    An emergency session's slot is a ceiling ("within 24 hours"), not a date: the parties may gather sooner.
    """
    if kind == "emergency":
        return True
    return _to_tz(now, "now").date() >= _to_tz(starts_at, "starts_at").date()
