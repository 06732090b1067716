"""Figures counted by the database (SQLite and PostgreSQL) against sets counted by hand and entry by entry."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

import pytest

from services.feedback import domain as feedback_domain
from services.ledger.app import spec
from services.ledger.domain import DONE_STATES, TZ
from services.ledger.figures import GOOD_RATINGS, Tally, month_range, tally
from services.ledger.models import Entry, EvaluationView
from services.runtime import workcal
from tests.support import pg_store, sqlite_store

pytestmark = pytest.mark.integration

BJ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    """A migrated ledger database on each backend."""
    if request.param == "sqlite":
        s = await sqlite_store(spec(), tmp_path)
        yield s
        await s.db.dispose()
    else:
        async with pg_store(spec(), "ledger_figures") as s:
            yield s


@dataclass
class E:
    """An entry as the figures see it."""

    n: int
    state: str = "closed"
    community: str = "jinshan"
    compound: str | None = "jinghuhuayuan"
    category: str = "lighting"
    level: str = "yellow"
    round: int = 1
    overdue: bool = False
    created_at: dt.datetime = dt.datetime(2026, 3, 2, 9, tzinfo=BJ)
    completed_at: dt.datetime | None = dt.datetime(2026, 3, 6, 15, tzinfo=BJ)
    deadline: dt.datetime | None = dt.datetime(2026, 3, 20, 18, tzinfo=BJ)

    @property
    def matter_id(self) -> str:
        return f"mat_{self.community}_{self.n}"


async def put(store, entries: list[E], ratings: list[tuple[str, int, str, str]] = ()) -> None:
    """Store entries and (matter, round, household, rating) rows as the ledger's handlers would."""
    async with store.db.session() as s:
        for e in entries:
            s.add(
                Entry(
                    id=f"ent_{e.community}_{e.n}",
                    matter_id=e.matter_id,
                    community=e.community,
                    compound=e.compound,
                    category=e.category,
                    level=e.level,
                    route="direct",
                    state=e.state,
                    round=e.round,
                    overdue=e.overdue,
                    created_at=e.created_at,
                    updated_at=e.created_at,
                    completed_at=e.completed_at,
                    deadline=e.deadline,
                )
            )
        for i, (matter, rnd, household, rating) in enumerate(ratings):
            s.add(
                EvaluationView(
                    matter_id=matter,
                    community=matter.split("_")[1],
                    round=rnd,
                    household_ref=household,
                    rating=rating,
                    recorded_at=dt.datetime(2026, 3, 10, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
                )
            )
        await s.commit()


async def figures(store, *, group_by: tuple[str, ...] = (), cond: list | None = None) -> tuple[Tally, dict]:
    async with store.db.session() as s:
        return await tally(s, cond or [], list(group_by))


async def test_hand_counted_rates(store):
    late = dt.datetime(2026, 3, 25, 10, tzinfo=BJ)
    await put(
        store,
        [
            E(1, state="closed"),  # on time, 4 workdays (Mar 3, 4, 5, 6)
            E(2, state="evaluated", completed_at=late),  # late; Mar 2 -> Mar 25 = 17 workdays
            E(3, state="completed", round=2),  # on time, reopened once before
            E(4, state="in_progress", overdue=True, completed_at=None),
            E(5, state="reopened", round=2, completed_at=None),
        ],
    )
    row = (await figures(store))[0].row()
    assert row.entries == 5 and row.completed == 3
    assert row.completion_rate == 0.6
    assert row.on_time_rate == round(2 / 3, 4)
    assert row.reopen_rate == 0.4
    assert row.overdue_open == 1
    assert row.avg_handling_workdays == round((4 + 17 + 4) / 3, 2)


async def test_the_articles_headline_and_handling_time_across_spring_festival(store):
    festival = E(
        999,
        created_at=dt.datetime(2026, 2, 12, 9, tzinfo=BJ),
        completed_at=dt.datetime(2026, 2, 25, 9, tzinfo=BJ),
    )
    await put(
        store, [E(i) for i in range(521)] + [E(521 + i, state="in_progress", completed_at=None) for i in range(15)]
    )
    row = (await figures(store))[0].row()
    assert (row.entries, row.completed, row.completion_rate) == (536, 521, 0.972)
    await put(store, [festival])
    # Feb 13, Feb 14 (make-up Saturday), Feb 24, Feb 25: the festival Feb 15-23 does not count.
    start, end = month_range("2026-02")
    row = (await figures(store, cond=[Entry.created_at >= start, Entry.created_at < end]))[0].row()
    assert (row.entries, row.avg_handling_workdays) == (1, 4.0)


async def test_satisfaction_is_the_feedback_definition(store):
    await put(store, [E(1), E(2)])
    m1, m2 = E(1).matter_id, E(2).matter_id
    ratings = [
        (m1, 1, "hh_a", "satisfied"),  # the view keeps each household's latest rating
        (m1, 1, "hh_b", "basically_satisfied"),
        (m1, 1, "hh_c", "unsatisfied"),
        (m2, 1, "hh_a", "satisfied"),  # another matter: a separate household evaluation
        ("mat_elsewhere_1", 1, "hh_z", "unsatisfied"),  # not in the set
    ]
    await put(store, [], ratings)
    row = (await figures(store, cond=[Entry.community == "jinshan"]))[0].row()
    assert row.households_evaluated == 4 and row.satisfaction_rate == 0.75
    # The same number through feedback's own function for one matter and round.
    one = [feedback_domain.Evaluation(h, r) for m, _, h, r in ratings if m == m1]
    assert feedback_domain.satisfaction_rate(one) == pytest.approx(2 / 3)
    groups = (await figures(store, group_by=("community",)))[1]
    assert list(groups) == [("jinshan",)]  # ratings follow their matter; a rating without an entry counts nowhere


async def test_group_by_month_uses_beijing_time(store):
    late_night = dt.datetime(2026, 3, 31, 17, 30, tzinfo=dt.UTC)  # 01:30 on Apr 1 in Beijing
    await put(store, [E(1, created_at=late_night), E(2)])
    groups = (await figures(store, group_by=("month",)))[1]
    assert {k: t.entries for k, t in groups.items()} == {("2026-03",): 1, ("2026-04",): 1}


def by_hand(entries: list[E], ratings: list[tuple], group_by: tuple[str, ...]) -> dict[tuple, Tally]:
    """The figures' counts entry by entry, as docs/figures.md defines them."""
    out: dict[tuple, Tally] = defaultdict(Tally)
    group_of: dict[str, tuple] = {}
    for e in entries:
        local = e.created_at.astimezone(TZ)
        key = tuple(local.strftime("%Y-%m") if k == "month" else getattr(e, k) for k in group_by)
        group_of[e.matter_id] = key
        t, done = out[key], e.state in DONE_STATES
        t.entries += 1
        t.completed += done
        t.reopened += e.round >= 2
        t.overdue_open += e.overdue and not done
        if done and e.completed_at is not None:
            t.handled += 1
            t.handling_workdays += workcal.workdays_between(local.date(), e.completed_at.astimezone(TZ).date())
            if e.deadline is not None:
                t.timed += 1
                t.on_time += e.completed_at <= e.deadline
    for matter, _, _, rating in ratings:
        if matter in group_of:
            out[group_of[matter]].rated += 1
            out[group_of[matter]].good += rating in GOOD_RATINGS
    return out


async def test_database_counts_equal_entry_by_entry_counts_on_a_random_county(store):
    rnd = random.Random(20261130)
    start = dt.datetime(2025, 12, 20, tzinfo=dt.UTC)
    entries = []
    for n in range(600):
        created = start + dt.timedelta(minutes=rnd.randrange(0, 60 * 24 * 75))  # crosses New Year and months
        state = rnd.choice(["assigned", "in_progress", "completed", "evaluated", "closed", "reopened"])
        done = state in DONE_STATES
        completed = (
            created + dt.timedelta(minutes=rnd.randrange(0, 60 * 24 * 30)) if done or rnd.random() < 0.1 else None
        )
        entries.append(
            E(
                n,
                state=state,
                community=rnd.choice(["jinshan", "xueyuan", "wenzhuang"]),
                compound=rnd.choice(["jinghuhuayuan", "xiugu", None]),
                category=rnd.choice(["lighting", "drainage", "parking"]),
                level=rnd.choice(["red", "yellow", "green"]),
                round=rnd.choice([1, 1, 1, 2, 3]),
                overdue=rnd.random() < 0.2,
                created_at=created,
                completed_at=None if completed is None or (not done and rnd.random() < 0.5) else completed,
                deadline=None if rnd.random() < 0.1 else created + dt.timedelta(days=rnd.randrange(1, 20)),
            )
        )
    ratings = [
        (e.matter_id, r, f"hh_{h}", rnd.choice(["satisfied", "basically_satisfied", "unsatisfied"]))
        for e in rnd.sample(entries, 200)
        for r in (1, 2)[: rnd.randrange(1, 3)]
        for h in range(rnd.randrange(1, 4))
    ]
    await put(store, entries, ratings)
    for group_by in [(), ("community",), ("month",), ("level", "month"), ("compound", "category", "community")]:
        total, groups = await figures(store, group_by=group_by)
        expected = by_hand(entries, ratings, group_by)
        if group_by:
            assert dict(groups) == dict(expected), group_by
        assert total == by_hand(entries, ratings, ())[()], group_by
    jan = month_range("2026-01")
    in_jan = [e for e in entries if jan[0] <= e.created_at < jan[1]]
    total, _ = await figures(store, cond=[Entry.created_at >= jan[0], Entry.created_at < jan[1]])
    assert total == by_hand(in_jan, ratings, ())[()] and 100 < total.entries < 400
