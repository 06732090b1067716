"""Replaying the consumed envelopes into an empty database rebuilds the same ledger."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import audit, cli, replay
from services.ledger.app import HANDLERS, spec
from services.ledger.models import ConsumedEvent, Entry, EvaluationView, MatterView, SupportingTask, TimelineItem
from services.runtime.db import Database
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 9, 28, 1, 0, tzinfo=dt.UTC)  # just before the National Day holiday


def envelope(type: str, data, subject: str, minutes: int, sequence: int | None = None) -> Envelope:
    return Envelope.new(
        type=type,
        source="/services/test",
        community="jinshan",
        subject=subject,
        data=data,
        sequence=sequence,
        time=T0 + dt.timedelta(minutes=minutes),
    )


def triaged(matter_id: str, route: str, level: str = "yellow", households: int = 2) -> events.MatterTriaged:
    return events.MatterTriaged(
        matter_id=matter_id,
        report_ids=[f"rpt_{matter_id}"],
        title=f"金泰和庄12号楼下水道反复堵塞（{matter_id}）",
        place=events.Place(compound="jintaihezhuang", building="12"),
        kind="problem",
        category="drainage",
        level=level,
        route=route,
        confidence=0.8,
        households=households,
        triaged_at=T0,
    )


def script() -> list[tuple[Envelope, object]]:
    """A month of a community's events, in the order the ledger consumed them."""
    res_ok = events.Resolution(
        matter_id="mat_2",
        outcome="resolved",
        measures="物业全面修复下水道，施工期间居民不使用",
        lead_party="property_company",
        lead_unit="江西恒泰物业服务有限公司",
        supporting_units=["金山社区党委", "县住房保障中心"],
    )
    res_up = events.Resolution(matter_id="mat_3", outcome="escalate", department="县住房保障中心", reason="设计缺陷")
    steps: list[tuple[str, object, str, int | None]] = [
        ("matter.triaged.v1", triaged("mat_1", "direct"), "mat_1", 1),
        ("matter.triaged.v1", triaged("mat_2", "deliberate"), "mat_2", 1),
        ("matter.triaged.v1", triaged("mat_3", "deliberate", level="red"), "mat_3", 1),
        ("matter.triaged.v1", triaged("mat_1", "direct", households=5), "mat_1", 2),
        (
            "session.scheduled.v1",
            events.SessionScheduled(
                session_id="ses_1", kind="fixed_day", starts_at=T0, place="议事厅", agenda=["mat_1", "mat_2"]
            ),
            "ses_1",
            None,
        ),
        (
            "session.concluded.v1",
            events.SessionConcluded(
                session_id="ses_1", kind="fixed_day", concluded_at=T0, resolutions=[res_ok, res_up]
            ),
            "ses_1",
            None,
        ),
        (
            "matter.regraded.v1",
            events.MatterRegraded(
                matter_id="mat_1",
                level="red",
                route="direct",
                category="drainage",
                previous=events.GradeSnapshot(level="yellow", route="direct", category="drainage"),
                by="staff_1",
                reason="污水外溢",
                regraded_at=T0 + dt.timedelta(hours=1),
            ),
            "mat_1",
            1,
        ),
        (
            "evaluation.recorded.v1",
            events.EvaluationRecorded(
                evaluation_id="evl_1",
                matter_id="mat_1",
                round=1,
                method="home_visit",
                rating="basically_satisfied",
                household_ref="hh_1",
                round_outcome="pending",
                recorded_at=T0,
            ),
            "mat_1",
            None,
        ),
    ]
    return [(envelope(t, d, subj, i, seq), d) for i, (t, d, subj, seq) in enumerate(steps)]


def _drop(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


async def state(db: Database) -> dict:
    """Everything the ledger holds, minus processing timestamps and surrogate row ids."""
    async with db.session() as s:
        entries = [_drop(e.model_dump(), "created_at", "updated_at") for e in (await s.exec(select(Entry))).all()]
        items = [
            _drop(i.model_dump(), "id", "at")
            for i in (await s.exec(select(TimelineItem).order_by(TimelineItem.entry_id, TimelineItem.seq))).all()
        ]
        tasks = [
            _drop(t.model_dump(), "created_at", "updated_at") for t in (await s.exec(select(SupportingTask))).all()
        ]
        views = [_drop(v.model_dump(), "updated_at") for v in (await s.exec(select(MatterView))).all()]
        evals = [_drop(v.model_dump(), "id") for v in (await s.exec(select(EvaluationView))).all()]
    return {
        "entries": sorted(entries, key=lambda e: e["id"]),
        "timeline": items,
        "supporting": sorted(tasks, key=lambda t: t["id"]),
        "views": sorted(views, key=lambda v: v["matter_id"]),
        "evaluations": evals,
    }


async def emitted(store) -> list[tuple[str, str | None, dict]]:
    return [(e.type, e.subject, _drop(e.data, "at")) for e in await store.outbox()]


async def test_replay_rebuilds_the_same_ledger(tmp_path):
    original = await sqlite_store(spec(), tmp_path)
    for env, data in script():
        await original.handle(HANDLERS[env.type], env, data)
    before = await state(original.db)
    assert len(before["entries"]) == 3 and len(before["supporting"]) == 2
    assert {e["matter_id"]: e["state"] for e in before["entries"]} == {
        "mat_1": "assigned",
        "mat_2": "assigned",
        "mat_3": "escalated",
    }
    path = tmp_path / "events.jsonl"
    assert await replay.export(original.db, path) == 8
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["type"] for x in lines][:2] == ["matter.triaged.v1", "matter.triaged.v1"]

    fresh = Database(f"sqlite+aiosqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        assert await cli.rebuild_into(fresh, path) == 8
        after = await state(fresh)
        assert after == before
        async with fresh.session() as s:
            assert len((await s.exec(select(ConsumedEvent))).all()) == 8
        # The rebuilt outbox holds the same events, already marked sent (a rebuild re-announces nothing).
        rebuilt = type(original)(original.spec, fresh)
        assert await emitted(rebuilt) == await emitted(original)
        async with fresh.session() as s:
            t = rebuilt.tables.outbox
            assert all(r.sent_at is not None for r in (await s.exec(t.select())).all())
        assert (await audit.verify(fresh))[1] == []
        # Replaying the same file again is refused: a rebuild needs an empty database.
        with pytest.raises(SystemExit):
            await cli.rebuild_into(fresh, path)
    finally:
        await fresh.dispose()
        await original.db.dispose()
