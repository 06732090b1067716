"""Headline figures (办结率、按时办结率、满意率、重办率、平均办理时长); formulas in docs/figures.md."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Date, and_, case, cast, func, literal_column, not_
from sqlmodel import select

from services.contracts.vocabulary import GOOD_RATINGS
from services.ledger.domain import DONE_STATES, TZ
from services.ledger.models import Entry, EvaluationView
from services.runtime import workcal
from services.runtime.errors import Problem
from services.runtime.inputs import check_year

GroupKey = Literal["community", "compound", "category", "level", "month"]


class FigureRow(BaseModel):
    """The figures of one group (or of everything in scope)."""

    key: dict[str, str | None] = Field(default_factory=dict)
    entries: int
    completed: int
    open: int = Field(0, description="在办: entries not yet done (entries - completed), the backlog")
    completion_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    reopen_rate: float | None
    avg_handling_workdays: float | None
    overdue_open: int
    supervised: int = Field(
        0, description="督办件数: entries the party organisation supervises after two unsatisfied rounds"
    )
    households_evaluated: int


@dataclass
class Tally:
    """The counts of a set of entries from which every figure follows (formulas in docs/figures.md)."""

    entries: int = 0
    completed: int = 0
    timed: int = 0  # done, with a deadline and a completion time
    on_time: int = 0
    reopened: int = 0
    overdue_open: int = 0
    supervised: int = 0  # 督办件
    handled: int = 0  # done, with a completion time
    handling_workdays: int = 0  # summed over the handled entries
    rated: int = 0  # households' latest ratings of the set's matters
    good: int = 0

    def add(self, other: Tally) -> None:
        """Count `other`'s entries and ratings in too."""
        for name in TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, key: dict[str, str | None] | None = None) -> FigureRow:
        """The figures of these counts."""
        return FigureRow(
            key=key or {},
            entries=self.entries,
            completed=self.completed,
            open=self.entries - self.completed,
            completion_rate=rate(self.completed, self.entries),
            on_time_rate=rate(self.on_time, self.timed),
            satisfaction_rate=rate(self.good, self.rated),
            reopen_rate=rate(self.reopened, self.entries),
            avg_handling_workdays=round(self.handling_workdays / self.handled, 2) if self.handled else None,
            overdue_open=self.overdue_open,
            supervised=self.supervised,
            households_evaluated=self.rated,
        )


TALLY_FIELDS = tuple(f.name for f in fields(Tally))
Counts = list[tuple[int, int]]  # (index in TALLY_FIELDS, count)


def rate(n: int, d: int) -> float | None:
    """n / d rounded to 4 places; None for an empty denominator."""
    return round(n / d, 4) if d else None


def local_day(column, dialect: str):
    """SQL for the Beijing calendar date of a UTC timestamp column (China keeps no daylight saving time)."""
    if dialect == "postgresql":
        return cast(func.timezone(literal_column("'Asia/Shanghai'"), column), Date)
    return func.date(column, literal_column("'+8 hours'"))  # SQLite keeps UTCDateTime as UTC text


def _day(value: dt.date | str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _flag(condition):
    return case((condition, 1), else_=0)


async def tally(s, cond: list, group_by: Sequence[str]) -> tuple[Tally, dict[tuple, Tally]]:
    """Count the entries matching `cond` and their ratings in the database: the total and one Tally per group.

    The database does the counting (a county holds hundreds of thousands of entries); rows come back per
    group, registration day and completion day, so handling time is summed in exact working days.
    """
    dialect = s.bind.dialect.name if s.bind else "sqlite"
    columns = [getattr(Entry, k) for k in group_by if k != "month"]
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(TALLY_FIELDS))
    for values, created, counts in [
        *await _entries(s, cond, columns, dialect),
        *await _ratings(s, cond, columns, dialect),
    ]:
        acc = sums[_key(group_by, values, created)]
        for i, n in counts:
            acc[i] += n
    groups = {key: Tally(*acc) for key, acc in sums.items()}
    total = Tally()
    for t in groups.values():
        total.add(t)
    return total, (groups if group_by else {})


async def _entries(s, cond: list, columns: list, dialect: str) -> list[tuple[list, dt.date, Counts]]:
    done = Entry.state.in_(sorted(DONE_STATES))
    handled = and_(done, Entry.completed_at.is_not(None))
    timed = and_(handled, Entry.deadline.is_not(None))
    # Per-entry values in a subquery, counted outside it: PostgreSQL matches GROUP BY expressions only by text.
    per_entry = (
        select(
            *columns,
            local_day(Entry.created_at, dialect).label("created_day"),
            case((handled, local_day(Entry.completed_at, dialect)), else_=None).label("completed_day"),
            _flag(done).label("completed"),
            _flag(timed).label("timed"),
            _flag(and_(timed, Entry.completed_at <= Entry.deadline)).label("on_time"),
            _flag(Entry.round >= 2).label("reopened"),
            _flag(and_(Entry.overdue, not_(done))).label("overdue_open"),
            _flag(Entry.supervised).label("supervised"),
        )
        .where(*cond, Entry.state != "merged")  # a merged entry's work is counted on the surviving matter's
        .subquery()
    )
    keys = [per_entry.c[c.key] for c in columns] + [per_entry.c.created_day, per_entry.c.completed_day]
    flags = ("completed", "timed", "on_time", "reopened", "overdue_open", "supervised")
    at = [TALLY_FIELDS.index(f) for f in ("entries", *flags, "handled", "handling_workdays")]
    workdays = functools.lru_cache(maxsize=None)(workcal.workdays_between)  # few distinct (day, day) pairs
    out = []
    for row in await s.exec(select(*keys, func.count(), *(func.sum(per_entry.c[k]) for k in flags)).group_by(*keys)):
        values, (created, completed, n, *flagged) = row[: len(columns)], row[len(columns) :]
        created, completed = _day(created), _day(completed)
        handling = (n, n * workdays(created, completed)) if completed is not None else (0, 0)
        out.append((values, created, list(zip(at, (n, *flagged, *handling), strict=True))))
    return out


async def _ratings(s, cond: list, columns: list, dialect: str) -> list[tuple[list, dt.date, Counts]]:
    # A rating counts where its matter's entry counts (the join), with the entry's group keys.
    rated = (
        select(
            *columns,
            local_day(Entry.created_at, dialect).label("created_day"),
            _flag(EvaluationView.rating.in_(sorted(GOOD_RATINGS))).label("good"),
        )
        .select_from(EvaluationView)
        .join(Entry, Entry.matter_id == EvaluationView.matter_id)
        .where(*cond)
        .subquery()
    )
    keys = [rated.c[c.key] for c in columns] + [rated.c.created_day]
    at = [TALLY_FIELDS.index("rated"), TALLY_FIELDS.index("good")]
    out = []
    for row in await s.exec(select(*keys, func.count(), func.sum(rated.c.good)).group_by(*keys)):
        *values, created, n, good = row
        out.append((values, _day(created), list(zip(at, (n, good), strict=True))))
    return out


def _key(group_by: Sequence[str], values: Sequence, created: dt.date | None) -> tuple:
    """The group's key values in group_by order; month is the Beijing month of registration."""
    if not group_by:
        return ()
    it = iter(values)
    return tuple(created.strftime("%Y-%m") if k == "month" else next(it) for k in group_by)  # type: ignore[union-attr]


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a YYYY-MM month in Beijing time; 422 on a bad month."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=TZ)
    except ValueError:
        raise Problem(422, "月份格式应为 YYYY-MM", "month must be YYYY-MM", field="month") from None
    check_year(start.year, "month")  # 0001-01 minus a day, 9999-12 plus a month: both overflow
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end
