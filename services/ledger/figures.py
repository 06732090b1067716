"""Headline figures (办结率、按时办结率、满意率、重办率、平均办理时长); formulas in docs/figures.md."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import select

from services.ledger.domain import DONE_STATES, TZ
from services.ledger.models import Entry, EvaluationView
from services.runtime import workcal
from services.runtime.auth import Principal
from services.runtime.authz import require, scope_filter
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger"])

GroupKey = Literal["community", "compound", "category", "level", "month"]
GROUP_KEYS = ("community", "compound", "category", "level", "month")
GOOD_RATINGS = frozenset({"satisfied", "basically_satisfied"})


@dataclass(frozen=True)
class Fact:
    """What the figures need of one entry."""

    matter_id: str
    community: str
    compound: str | None
    category: str
    level: str
    state: str
    round: int
    overdue: bool
    created_at: dt.datetime
    completed_at: dt.datetime | None
    deadline: dt.datetime | None

    @property
    def month(self) -> str:
        """The Beijing-time month the entry was registered in (YYYY-MM)."""
        return _local(self.created_at).strftime("%Y-%m")

    @property
    def done(self) -> bool:
        """Completed or later (办结)."""
        return self.state in DONE_STATES


@dataclass(frozen=True)
class Rating:
    """One household's latest rating of a matter in one round."""

    matter_id: str
    round: int
    household: str
    rating: str


class FigureRow(BaseModel):
    """The figures of one group (or of everything in scope)."""

    key: dict[str, str | None] = Field(default_factory=dict)
    entries: int
    completed: int
    completion_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    reopen_rate: float | None
    avg_handling_workdays: float | None
    overdue_open: int
    households_evaluated: int


class Figures(FigureRow):
    """Figures over the entries in scope, and per group when group_by is given."""

    community: str | None
    month: str | None
    group_by: list[str]
    groups: list[FigureRow]


def _local(moment: dt.datetime) -> dt.datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(TZ)


def rate(n: int, d: int) -> float | None:
    """n / d rounded to 4 places; None for an empty denominator."""
    return round(n / d, 4) if d else None


def handling_workdays(f: Fact) -> int | None:
    """Workdays from registration to completion: workdays in (created date, completed date], Beijing time."""
    if f.completed_at is None:
        return None
    return workcal.workdays_between(_local(f.created_at).date(), _local(f.completed_at).date())


def latest_ratings(ratings: Iterable[Rating]) -> list[Rating]:
    """One rating per (matter, round, household): the last given (as feedback's latest_per_household)."""
    latest: dict[tuple[str, int, str], Rating] = {}
    for r in ratings:
        latest[(r.matter_id, r.round, r.household)] = r
    return list(latest.values())


def compute(facts: Sequence[Fact], ratings: Sequence[Rating], key: dict[str, str | None] | None = None) -> FigureRow:
    """The figures of a set of entries and the ratings of their matters (formulas in docs/figures.md)."""
    done = [f for f in facts if f.done]
    timed = [f for f in done if f.completed_at is not None and f.deadline is not None]
    on_time = sum(1 for f in timed if f.completed_at <= f.deadline)  # type: ignore[operator]
    durations = [d for d in (handling_workdays(f) for f in done) if d is not None]
    matters = {f.matter_id for f in facts}
    rated = [r for r in latest_ratings(ratings) if r.matter_id in matters]
    good = sum(1 for r in rated if r.rating in GOOD_RATINGS)
    return FigureRow(
        key=key or {},
        entries=len(facts),
        completed=len(done),
        completion_rate=rate(len(done), len(facts)),
        on_time_rate=rate(on_time, len(timed)),
        satisfaction_rate=rate(good, len(rated)),
        reopen_rate=rate(sum(1 for f in facts if f.round >= 2), len(facts)),
        avg_handling_workdays=round(sum(durations) / len(durations), 2) if durations else None,
        overdue_open=sum(1 for f in facts if f.overdue and not f.done),
        households_evaluated=len(rated),
    )


def grouped(facts: Sequence[Fact], ratings: Sequence[Rating], group_by: Sequence[str]) -> list[FigureRow]:
    """One row per combination of the group_by values present, sorted by key."""
    groups: dict[tuple, list[Fact]] = defaultdict(list)
    for f in facts:
        groups[tuple(getattr(f, k) for k in group_by)].append(f)
    by_matter: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_matter[r.matter_id].append(r)
    rows = []
    for values in sorted(groups, key=lambda t: tuple("" if v is None else str(v) for v in t)):
        members = groups[values]
        own = [r for f in members for r in by_matter.get(f.matter_id, [])]
        rows.append(compute(members, own, dict(zip(group_by, values, strict=True))))
    return rows


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a YYYY-MM month in Beijing time; 422 on a bad month."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=TZ)
    except ValueError:
        raise Problem(422, "月份格式应为 YYYY-MM", "month must be YYYY-MM", field="month") from None
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


async def load(s, cond: list) -> tuple[list[Fact], list[Rating]]:
    """Facts of the entries matching `cond` and the ratings of their matters."""
    # Columns, not ORM objects: a county holds hundreds of thousands of entries.
    cols = [Entry.matter_id, Entry.community, Entry.compound, Entry.category, Entry.level, Entry.state]
    cols += [Entry.round, Entry.overdue, Entry.created_at, Entry.completed_at, Entry.deadline]
    facts = [Fact(*row) for row in (await s.exec(select(*cols).where(*cond))).all()]
    communities = sorted({f.community for f in facts})
    ratings: list[Rating] = []
    if communities:
        q = (
            select(EvaluationView)
            .where(EvaluationView.community.in_(communities))
            .order_by(EvaluationView.recorded_at, EvaluationView.id)
        )
        ratings = [Rating(r.matter_id, r.round, r.household_ref, r.rating) for r in (await s.exec(q)).all()]
    return facts, ratings


@router.get("/figures", response_model=Figures, summary="Headline figures (办结率、满意率)")
async def figures(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    community: str | None = Query(None, max_length=64),
    month: str | None = Query(None, max_length=7, description="YYYY-MM: entries registered that month (Beijing)"),
    group_by: Annotated[list[GroupKey] | None, Query(max_length=3)] = None,
) -> Figures:
    """Figures over the entries in scope (county-wide for the county operator), optionally grouped."""
    keys = list(dict.fromkeys(group_by or []))
    cond = [scope_filter(principal, Entry.community, community)]
    if month:
        start, end = month_range(month)
        cond += [Entry.created_at >= start, Entry.created_at < end]
    async with ctx.db.session() as s:
        facts, ratings = await load(s, cond)
    total = compute(facts, ratings)
    return Figures(
        **total.model_dump(),
        community=community,
        month=month,
        group_by=keys,
        groups=grouped(facts, ratings, keys) if keys else [],
    )
