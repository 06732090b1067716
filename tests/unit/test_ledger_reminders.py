"""Deadlines across the 2026 holidays, warnings before them and reminders after, notified to the unit's people."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import config, handlers, reminders
from services.ledger.app import spec
from services.ledger.models import Entry, Reminder, SupportingTask, TimelineItem, notices
from services.runtime import workcal
from services.runtime.settings import get_settings
from tests.support import sqlite_store

pytestmark = pytest.mark.unit


def bj(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=handlers.TZ)


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


@pytest.fixture(autouse=True)
def fresh_policy():
    config.deadline_policy.cache_clear()
    get_settings.cache_clear()
    yield
    config.deadline_policy.cache_clear()
    get_settings.cache_clear()


def test_the_official_2026_calendar_is_known():
    # 国庆 Oct 1-7 with make-up workdays Sep 20 and Oct 10; 春节 Feb 15-23 with make-up Feb 14 and Feb 28.
    assert workcal.is_calendar_known(dt.date(2026, 1, 1))
    assert not any(workcal.is_workday(dt.date(2026, 10, d)) for d in range(1, 8))
    assert workcal.is_workday(dt.date(2026, 9, 20)) and workcal.is_workday(dt.date(2026, 10, 10))
    assert not any(workcal.is_workday(dt.date(2026, 2, d)) for d in range(15, 24))
    assert workcal.is_workday(dt.date(2026, 2, 14)) and workcal.is_workday(dt.date(2026, 2, 28))


async def direct(store, at: dt.datetime, level: str = "yellow", matter_id: str = "mat_1") -> Entry:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="景湖花园3号楼路灯不亮",
        place=events.Place(compound="jinghuhuayuan", building="3"),
        kind="problem",
        category="lighting",
        level=level,
        route="direct",
        confidence=0.9,
        triaged_at=at,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/test", community="jinshan", subject=matter_id, data=data, time=at
    )
    await store.handle(handlers.on_matter_triaged, env, data)
    async with store.db.session() as s:
        return (await s.exec(select(Entry).where(Entry.matter_id == matter_id))).one()


async def reminders_sent(store) -> list[tuple[str, str | None, str]]:
    """(kind, supporting task id or None, local deadline date) of every deadline reminder, in order."""
    async with store.db.session() as s:
        rows = (await s.exec(select(Reminder).where(Reminder.kind != "first_action").order_by(Reminder.id))).all()
    return [
        (
            r.kind,
            None if r.target_id == r.entry_id else r.target_id,
            handlers._aware(r.deadline).astimezone(handlers.TZ).date().isoformat(),
        )
        for r in rows
    ]


async def queued(store) -> list[dict]:
    """The notices queued for people, oldest first."""
    async with store.db.session() as s:
        return [n for ref in await _refs(s) for n in await notices.of(s, ref)]


async def _refs(s) -> list[str]:
    return [e.id for e in (await s.exec(select(Entry).order_by(Entry.id))).all()]


async def sweep(store, at: dt.datetime) -> int:
    return await reminders.sweep(lambda: store.uow(actor="ledger"), now=at)


async def test_deadline_per_level_is_configurable(store, monkeypatch):
    monkeypatch.setenv("LEDGER_YELLOW_COMPLETE_WORKDAYS", "5")
    monkeypatch.setenv("LEDGER_WARN_WORKDAYS_BEFORE", "1")
    policy = config.deadline_policy()
    assert policy.yellow_complete_workdays == 5 and policy.warn_workdays_before == 1
    assert policy.red_complete_workdays == 3  # untouched defaults stay
    # Sep 28 + 5 workdays across National Day: Sep 29, Sep 30, Oct 8, Oct 9, Oct 10 (make-up Saturday).
    e = await direct(store, bj(2026, 9, 28))
    assert e.deadline == bj(2026, 10, 10, 18)


async def test_warning_then_overdue_across_national_day_each_sent_once(store, monkeypatch):
    monkeypatch.setenv("LEDGER_YELLOW_COMPLETE_WORKDAYS", "5")
    e = await direct(store, bj(2026, 9, 28))
    assert e.deadline == bj(2026, 10, 10, 18)
    # On Sep 30 and during the holiday three workdays remain (Oct 8, 9, 10): no warning yet.
    assert await sweep(store, bj(2026, 9, 30)) == 0
    assert await sweep(store, bj(2026, 10, 5)) == 0
    # Oct 8: two workdays remain (Oct 9, 10) = warn_workdays_before.
    assert await sweep(store, bj(2026, 10, 8)) == 1
    assert await sweep(store, bj(2026, 10, 9)) == 0  # still the same warning: not sent twice
    assert await sweep(store, bj(2026, 10, 10, 17)) == 0
    assert await sweep(store, bj(2026, 10, 10, 19)) == 1
    assert await sweep(store, bj(2026, 10, 12)) == 0
    assert await reminders_sent(store) == [("warning", None, "2026-10-10"), ("overdue", None, "2026-10-10")]
    # Each reminder reached the lead unit's people from the directory (恒泰物业's two staff), once each.
    sent = [n for n in await queued(store) if n["kind"].startswith("reminder_")]
    assert e.lead_unit == "江西恒泰物业服务有限公司"
    assert sorted(n["recipient"]["name"] for n in sent) == ["周海涛", "周海涛", "邓晓燕", "邓晓燕"]
    assert {n["kind"] for n in sent} == {"reminder_warning", "reminder_overdue"}
    assert all(n["ref"] == e.id and "景湖花园" in n["body"] and "mat_" not in n["body"] for n in sent)
    async with store.db.session() as s:
        got = await s.get(Entry, e.id)
        items = (await s.exec(select(TimelineItem).where(TimelineItem.entry_id == e.id))).all()
    assert got.overdue is True
    notes = [(i.action, i.note) for i in items if i.action in ("remind", "overdue")]
    assert [a for a, _ in notes] == ["remind", "overdue", "remind"]
    assert "临期预警" in notes[0][1] and "超期催办" in notes[2][1]


async def test_a_new_deadline_gets_its_own_reminders(store):
    e = await direct(store, bj(2026, 9, 28), level="red")  # red: 3 workdays -> Oct 8
    assert e.deadline == bj(2026, 10, 8, 18)
    assert await sweep(store, bj(2026, 10, 9)) == 1
    async with store.db.session() as s:
        got = await s.get(Entry, e.id)
        got.deadline, got.overdue = bj(2026, 10, 16, 18), False
        await s.commit()
    assert await sweep(store, bj(2026, 10, 15)) == 1
    assert [k for k, _, _ in await reminders_sent(store)] == ["overdue", "warning"]


async def test_done_entries_are_not_reminded(store):
    e = await direct(store, bj(2026, 9, 28), level="red")
    async with store.db.session() as s:
        got = await s.get(Entry, e.id)
        got.state, got.completed_at = "completed", bj(2026, 10, 8)
        await s.commit()
    assert await sweep(store, bj(2026, 10, 20)) == 0


async def test_supporting_units_across_spring_festival(store):
    data = events.MatterTriaged(
        matter_id="mat_9",
        report_ids=["rpt_9"],
        title="金泰和庄12号楼下水道堵塞外溢",
        place=events.Place(compound="jintaihezhuang", building="12"),
        kind="problem",
        category="drainage",
        level="red",
        route="deliberate",
        confidence=0.9,
        triaged_at=bj(2026, 2, 12, 9),
    )
    # A red matter's clock starts at grading (the entry is assigned to the on-call unit at once).
    env = Envelope.new(
        type="matter.triaged.v1",
        source="/services/test",
        community="jinshan",
        subject="mat_9",
        data=data,
        time=bj(2026, 2, 12, 9),
    )
    await store.handle(handlers.on_matter_triaged, env, data)
    res = events.Resolution(
        matter_id="mat_9",
        outcome="resolved",
        measures="物业疏通并改造管道坡度",
        lead_party="property_company",
        lead_unit="江西恒泰物业服务有限公司",
        supporting_units=["金山社区党委", "县住房保障中心"],
    )
    concluded = events.SessionConcluded(
        session_id="ses_9", kind="emergency", concluded_at=bj(2026, 2, 12), resolutions=[res]
    )
    env = Envelope.new(
        type="session.concluded.v1",
        source="/services/test",
        community="jinshan",
        subject="ses_9",
        data=concluded,
        time=bj(2026, 2, 12),
    )
    await store.handle(handlers.on_session_concluded, env, concluded)
    async with store.db.session() as s:
        e = (await s.exec(select(Entry).where(Entry.matter_id == "mat_9"))).one()
        tasks = (await s.exec(select(SupportingTask).order_by(SupportingTask.unit))).all()
    # Red: 3 workdays after Thu Feb 12 = Feb 13, Sat Feb 14 (make-up), then Tue Feb 24 after the festival.
    assert e.deadline == bj(2026, 2, 24, 18)
    assert sorted(t.unit for t in tasks) == ["县住房保障中心", "金山社区党委"]
    assert all(t.deadline == e.deadline and t.state == "assigned" for t in tasks)
    assert await sweep(store, bj(2026, 2, 12, 12)) == 0  # Feb 13, 14, 24 remain
    assert await sweep(store, bj(2026, 2, 13, 12)) == 3  # Feb 14 and 24 remain: entry + two units warned
    assert await sweep(store, bj(2026, 2, 20, 12)) == 0  # mid-holiday: already warned
    async with store.db.session() as s:
        done = await s.get(SupportingTask, tasks[0].id)
        done.state = "completed"
        await s.commit()
    assert await sweep(store, bj(2026, 2, 24, 19)) == 2  # the entry and the unfinished unit
    sent = await reminders_sent(store)
    assert sorted(k for k, _, _ in sent) == ["overdue", "overdue", "warning", "warning", "warning"]
    assert all(d == "2026-02-24" for _, _, d in sent)
    overdue_units = {t for k, t, _ in sent if k == "overdue"}
    assert overdue_units == {None, tasks[1].id}
