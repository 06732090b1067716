"""The official Chinese working calendar (holidays and make-up workdays 调休), with a safe fallback.

A year comes from the county's own table (services/runtime/holidays.py, entered from the State Council's notice)
when it has one, else from `chinesecalendar`, else Monday-Friday with a warning (and /readyz says so).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

import chinese_calendar

from services.runtime import holidays

log = logging.getLogger(__name__)
HORIZON_DAYS = 90
TZ = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991


def source_of(year: int) -> str | None:
    """Where `year`'s arrangement comes from: 'county', 'library', or None (Monday-Friday fallback)."""
    if year in holidays.years():
        return "county"
    return "library" if _library_knows(year) else None


@lru_cache(maxsize=64)
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def uncovered(today: dt.date, days: int = HORIZON_DAYS) -> list[int]:
    """The years within the next `days` days whose official arrangement is not known."""
    last = today + dt.timedelta(days=days)
    return [y for y in range(today.year, last.year + 1) if source_of(y) is None]


def coverage_warning(today: dt.date, days: int = HORIZON_DAYS) -> str | None:
    """A sentence for people when the next `days` days are not all covered, else None."""
    missing = uncovered(today, days)
    if not missing:
        return None
    years = "、".join(f"{y}年" for y in missing)
    first = max(today, dt.date(missing[0], 1, 1)).isoformat()
    return (
        f"工作日历未覆盖{years}的放假调休安排（自{first}起按周一至周五计算期限）："
        f"请县级管理员按国务院办公厅通知录入 / The working calendar lacks the official holidays of "
        f"{', '.join(map(str, missing))}: deadlines from {first} count Monday-Friday until the county enters them"
    )


@lru_cache(maxsize=64)
def _year_known(year: int) -> bool:
    if year in holidays.years():
        return True
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        # The library only knows the years the State Council has published; planning must not stop.
        log.warning("workcal.year_unknown year=%s: falling back to Monday-Friday", year)
        return False
    return True


def is_workday(day: dt.date) -> bool:
    """Tell whether `day` is an official workday; weekdays count when the year is unknown."""
    holidays.years()  # notices a county edit (and clears the caches below) at most every RECHECK_SECONDS
    return _is_workday(day)


@lru_cache(maxsize=4096)  # deadlines walk the same few weeks for every matter; the calendar changes rarely
def _is_workday(day: dt.date) -> bool:
    county = holidays.years().get(day.year)
    if county is not None:
        return county.is_workday(day)
    if _year_known(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def is_calendar_known(day: dt.date) -> bool:
    """Tell whether the official calendar for `day`'s year is known (else the fallback is used)."""
    return _year_known(day.year)


def next_workday(day: dt.date, *, include_self: bool = True) -> dt.date:
    """Return `day` if it is a workday (with include_self), else the next workday after it."""
    d = day if include_self else day + dt.timedelta(days=1)
    while not is_workday(d):
        d += dt.timedelta(days=1)
    return d


def add_workdays(day: dt.date, n: int) -> dt.date:
    """Return the n-th workday strictly after `day` (n >= 1); n == 0 gives the next workday on or after."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return next_workday(day)
    # Count from `day` itself, workday or not: a Saturday start must not first move to Monday and then
    # count Monday as day 0, which made every weekend/holiday start land one workday late (issue 15).
    holidays.years()  # once, not per day walked: it builds the table's path each time (issue 23)
    d = day
    for _ in range(n):
        d += dt.timedelta(days=1)
        while not _is_workday(d):
            d += dt.timedelta(days=1)
    return d


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Count workdays in the half-open range (start, end]."""
    if end <= start:
        return 0
    holidays.years()
    # Per-year running counts: a few lookups per call instead of a day-by-day walk (the ledger's figures
    # ask this for every completed entry).
    years = sum(_year_prefix(y)[-1] for y in range(start.year, end.year))
    return years + _year_prefix(end.year)[_day_of_year(end)] - _year_prefix(start.year)[_day_of_year(start)]


def _day_of_year(day: dt.date) -> int:
    return day.timetuple().tm_yday


@lru_cache(maxsize=128)
def _year_prefix(year: int) -> tuple[int, ...]:
    # counts[i] = workdays among the first i days of the year.
    counts, n, d = [0], 0, dt.date(year, 1, 1)
    while d.year == year:
        n += _is_workday(d)
        counts.append(n)
        d += dt.timedelta(days=1)
    return tuple(counts)


def clear_cache() -> None:
    """Forget what was looked up (tests; the calendar itself does not change while a process runs)."""
    for f in (_year_known, _library_knows, _is_workday, _year_prefix):
        f.cache_clear()


holidays.on_change(clear_cache)  # the county entered or corrected a year: forget what was looked up


def arrangement(year: int) -> tuple[str | None, list[dt.date], list[dt.date]]:
    """A year's source and its official days off and weekend days worked (empty when unknown)."""
    source = source_of(year)
    if source == "county":
        y = holidays.years()[year]
        return source, sorted(y.holidays), sorted(y.workdays)
    if source == "library":
        off = sorted(d for d in chinese_calendar.holidays if d.year == year)
        on = sorted(d for d in chinese_calendar.workdays if d.year == year)
        return source, off, on
    return None, [], []
