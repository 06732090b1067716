"""The official Chinese working calendar (holidays and make-up workdays 调休), with a safe fallback."""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

import chinese_calendar

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _year_known(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        # The library only knows the years the State Council has published; planning must not stop.
        log.warning("workcal.year_unknown year=%s: falling back to Monday-Friday", year)
        return False
    return True


@lru_cache(maxsize=4096)  # deadlines walk the same few weeks for every matter; the calendar is fixed data
def is_workday(day: dt.date) -> bool:
    """Tell whether `day` is an official workday; weekdays count when the year is unknown."""
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
    d = day
    for _ in range(n):
        d = next_workday(d, include_self=False)
    return d


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Count workdays in the half-open range (start, end]."""
    if end <= start:
        return 0
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
        n += is_workday(d)
        counts.append(n)
        d += dt.timedelta(days=1)
    return tuple(counts)


def clear_cache() -> None:
    """Forget what was looked up (tests; the calendar itself does not change while a process runs)."""
    for f in (_year_known, is_workday, _year_prefix):
        f.cache_clear()
