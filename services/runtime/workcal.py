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
        return False
    return True


def is_workday(day: dt.date) -> bool:
    """Tell whether `day` is an official workday; weekdays count when the year is unknown."""
    if _year_known(day.year):
        return chinese_calendar.is_workday(day)
    # The library only knows the years the State Council has published; planning must not stop.
    log.warning("workcal.year_unknown year=%s: falling back to Monday-Friday", day.year)
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
    """Return the date n workdays after `day` (n >= 0; n == 0 gives the next workday on or after)."""
    d = next_workday(day)
    for _ in range(n):
        d = next_workday(d, include_self=False)
    return d


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Count workdays in the half-open range (start, end]."""
    count, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        if is_workday(d):
            count += 1
    return count
