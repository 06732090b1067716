"""Ledger handlers against a real (SQLite) database: entries, timelines and the events they emit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import handlers
from services.ledger.app import spec
from services.ledger.models import Entry, MatterView, TimelineItem
from services.runtime.consumer import Reject
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)


def env(type: str, data, *, subject: str, community: str = "jinshan", sequence: int | None = None) -> Envelope:
    return Envelope.new(
        type=type, source="/services/test", community=community, subject=subject, data=data, sequence=sequence
    )


def triaged(matter_id: str = "mat_1", route: str = "direct", level: str = "yellow", **kw) -> events.MatterTriaged:
    return events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="景湖花园3号楼路灯不亮",
        place=events.Place(compound="jinxiuhuating", building="3"),
        kind="problem",
        category="lighting",
        level=level,
        route=route,
        confidence=0.9,
        households=kw.pop("households", 3),
        triaged_at=kw.pop("triaged_at", NOW),
        **kw,
    )


def concluded(*resolutions: events.Resolution, session_id: str = "ses_1") -> events.SessionConcluded:
    return events.SessionConcluded(
        session_id=session_id, kind="fixed_day", concluded_at=NOW, resolutions=list(resolutions)
    )


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


async def run(store, handler, e: Envelope, data) -> None:
    await store.handle(handler, e, data)


async def entry(store, matter_id: str = "mat_1") -> Entry | None:
    async with store.db.session() as s:
        return (await s.exec(select(Entry).where(Entry.matter_id == matter_id))).first()


async def timeline(store, entry_id: str) -> list[TimelineItem]:
    async with store.db.session() as s:
        q = select(TimelineItem).where(TimelineItem.entry_id == entry_id).order_by(TimelineItem.seq)
        return list((await s.exec(q)).all())


async def types(store) -> list[str]:
    return [e.type for e in await store.outbox()]


async def direct_entry(store, matter_id: str = "mat_1") -> Entry:
    data = triaged(matter_id)
    await run(store, handlers.on_matter_triaged, env("matter.triaged.v1", data, subject=matter_id, sequence=1), data)
    e = await entry(store, matter_id)
    assert e is not None
    return e


async def set_state(store, entry_id: str, state: str) -> None:
    async with store.db.session() as s:
        e = await s.get(Entry, entry_id)
        e.state = state
        if state in ("completed", "evaluated"):
            e.completed_at = NOW
        await s.commit()


async def test_direct_matter_is_assigned_to_the_property_company(store):
    e = await direct_entry(store)
    assert e.state == "assigned"
    assert e.lead_party == "property_company"
    assert e.lead_unit == "抚州金溪宜居物业服务有限公司"  # the compound's company from the directory
    assert e.measures == handlers.DIRECT_MEASURES
    assert e.deadline is not None and e.deadline > NOW
    assert e.id.startswith("ent_") and e.households == 3
    items = await timeline(store, e.id)
    assert [(i.action, i.from_state, i.to_state) for i in items] == [
        ("register", None, "registered"),
        ("assign", "registered", "assigned"),
    ]
    out = await store.outbox()
    assert [o.type for o in out] == ["entry.assigned.v1"]
    assert out[0].subject == "mat_1" and out[0].community == "jinshan"
    task = events.EntryEvent.model_validate(out[0].data)
    assert task.entry_id == e.id and task.state == "assigned" and task.round == 1


async def test_unknown_compound_falls_back_to_the_roster(store):
    data = triaged().model_copy(update={"place": events.Place(compound=None)})
    await run(store, handlers.on_matter_triaged, env("matter.triaged.v1", data, subject="mat_1"), data)
    assert (await entry(store)).lead_unit == "江西恒泰物业服务有限公司"


async def test_deliberate_matter_only_updates_the_view(store):
    data = triaged(route="deliberate")
    await run(store, handlers.on_matter_triaged, env("matter.triaged.v1", data, subject="mat_1"), data)
    assert await entry(store) is None
    async with store.db.session() as s:
        view = await s.get(MatterView, "mat_1")
    assert view.route == "deliberate" and view.compound == "jinxiuhuating"
    assert await types(store) == []


async def test_duplicate_and_grown_matter_keep_one_entry(store):
    first = await direct_entry(store)
    again = triaged(households=7)
    for seq in (2, 2, 1):  # a newer one, its duplicate, and a stale one
        e = env("matter.triaged.v1", again, subject="mat_1", sequence=seq)
        await run(store, handlers.on_matter_triaged, e, again)
    async with store.db.session() as s:
        rows = (await s.exec(select(Entry))).all()
    assert [r.id for r in rows] == [first.id]
    assert rows[0].households == 7
    assert await types(store) == ["entry.assigned.v1"]


async def test_regrade_updates_view_and_entry(store):
    e = await direct_entry(store)
    data = events.MatterRegraded(
        matter_id="mat_1",
        level="red",
        route="direct",
        category="lighting",
        previous=events.GradeSnapshot(level="yellow", route="direct", category="lighting"),
        by="staff_1",
        reason="夜间安全隐患",
        regraded_at=NOW + dt.timedelta(hours=1),
    )
    regraded = env("matter.regraded.v1", data, subject="mat_1", sequence=1)
    await run(store, handlers.on_matter_regraded, regraded, data)
    got = await entry(store)
    assert got.level == "red"
    # Raised to red: the on-call unit takes it at once, with a first-action clock and a page.
    assert [t.action for t in await timeline(store, e.id)][-3:] == ["regrade", "note", "page"]
    assert got.first_action_due == regraded.time + dt.timedelta(hours=4)


async def test_session_scheduled_notes_existing_entries(store):
    e = await direct_entry(store)
    data = events.SessionScheduled(
        session_id="ses_1", kind="fixed_day", starts_at=NOW, place="议事厅", agenda=["mat_1", "mat_unknown"]
    )
    await run(store, handlers.on_session_scheduled, env("session.scheduled.v1", data, subject="ses_1"), data)
    last = (await timeline(store, e.id))[-1]
    assert last.action == "note" and "已列入议事会议程" in last.note


async def deliberate_view(store, matter_id: str = "mat_2") -> None:
    data = triaged(matter_id, route="deliberate", level="yellow")
    await run(store, handlers.on_matter_triaged, env("matter.triaged.v1", data, subject=matter_id), data)


async def test_session_resolution_creates_an_assigned_entry(store):
    await deliberate_view(store)
    deadline = NOW + dt.timedelta(days=10)
    res = events.Resolution(
        matter_id="mat_2",
        outcome="resolved",
        measures="物业全面修复，居民施工期间不用下水道",
        lead_party="property_company",
        lead_unit="江西恒泰物业服务有限公司",
        supporting_units=["金山社区党委"],
        deadline=deadline,
    )
    data = concluded(res)
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    e = await entry(store, "mat_2")
    assert e.state == "assigned" and e.measures.startswith("物业全面修复")
    assert e.supporting_units == ["金山社区党委"] and e.deadline == deadline
    out = await store.outbox()
    assert [o.type for o in out] == ["entry.assigned.v1"] and out[0].subject == "mat_2"
    # The same resolution again (e.g. a re-sent conclusion) does not assign twice.
    data2 = concluded(res, session_id="ses_2")
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data2, subject="ses_2"), data2)
    assert await types(store) == ["entry.assigned.v1"]


async def test_resolution_for_unknown_matter_is_retried_not_lost(store):
    data = concluded(events.Resolution(matter_id="mat_x", outcome="resolved", measures="修"))
    with pytest.raises(LookupError):
        await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    assert await entry(store, "mat_x") is None


async def test_session_escalation(store):
    await deliberate_view(store)
    res = events.Resolution(
        matter_id="mat_2", outcome="escalate", department="县住房保障中心", lead_party="partner_unit", reason="设计缺陷"
    )
    data = concluded(res)
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    e = await entry(store, "mat_2")
    assert e.state == "escalated" and e.escalated_to == "县住房保障中心"
    assert [i.action for i in await timeline(store, e.id)] == ["register", "assign", "escalate"]
    out = await store.outbox()
    assert [o.type for o in out] == ["entry.escalated.v1"]
    assert out[0].data["state"] == "escalated"


async def test_other_outcomes_only_note(store):
    e = await direct_entry(store)
    data = concluded(events.Resolution(matter_id="mat_1", outcome="deferred", reason="等待勘察"))
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    assert (await entry(store)).state == "assigned"
    assert "暂缓" in (await timeline(store, e.id))[-1].note
    assert await types(store) == ["entry.assigned.v1"]


def evaluation(outcome: str = "satisfied", round: int = 1) -> events.EvaluationRecorded:
    return events.EvaluationRecorded(
        evaluation_id="evl_1",
        matter_id="mat_1",
        round=round,
        method="home_visit",
        rating="satisfied",
        household_ref="hh_1",
        round_outcome=outcome,
        round_rate=1.0,
        recorded_at=NOW,
    )


async def test_satisfied_evaluation_moves_completed_to_evaluated(store):
    e = await direct_entry(store)
    pending = evaluation("pending")
    await set_state(store, e.id, "completed")
    await run(store, handlers.on_evaluation_recorded, env("evaluation.recorded.v1", pending, subject="mat_1"), pending)
    assert (await entry(store)).state == "completed"
    data = evaluation()
    await run(store, handlers.on_evaluation_recorded, env("evaluation.recorded.v1", data, subject="mat_1"), data)
    got = await entry(store)
    assert got.state == "evaluated" and got.satisfied is True


async def test_reopen_direct_matter_reassigns_round_two(store):
    e = await direct_entry(store)
    await set_state(store, e.id, "completed")
    data = events.MatterReopened(matter_id="mat_1", round=2, reasons=["路灯仍然不亮"], reopened_at=NOW)
    for _ in range(2):  # the second is a duplicate of round 2 and changes nothing
        await run(store, handlers.on_matter_reopened, env("matter.reopened.v1", data, subject="mat_1"), data)
    got = await entry(store)
    assert got.round == 2 and got.satisfied is False and got.state == "assigned"
    assert got.lead_unit == e.lead_unit and got.completed_at is None
    actions = [(i.action, i.to_state) for i in await timeline(store, e.id)]
    assert actions[-2:] == [("evaluate_unsatisfied", "reopened"), ("assign", "assigned")]
    out = await store.outbox()
    assert [o.type for o in out] == ["entry.assigned.v1", "entry.assigned.v1"]
    assert out[-1].data["round"] == 2 and out[-1].data["measures"] == handlers.DIRECT_MEASURES


async def test_a_reopened_round_has_its_own_deadline_and_keeps_the_measures_on_record(store):
    # Issue 22: round 2 kept round 1's deadline, and the reopen reasons (with a household reference residents
    # then saw on the revisit) replaced the measures.
    e = await direct_entry(store)
    async with store.db.session() as s:
        row = await s.get(Entry, e.id)
        row.measures = "更换3号楼路灯灯泡"
        await s.commit()
    await set_state(store, e.id, "completed")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    reasons = [
        "原报事人（hh_3f9a0c1d2e4b5a6978c1）反映问题未解决：「还是不亮，电话13812345678」",
        "满意率 0% 低于要求的 80%",
    ]
    data = events.MatterReopened(matter_id="mat_1", round=2, reasons=reasons, reopened_at=later)
    reopened = env("matter.reopened.v1", data, subject="mat_1").model_copy(update={"time": later})
    await run(store, handlers.on_matter_reopened, reopened, data)
    got = await entry(store)
    assert got.round == 2 and got.measures == "更换3号楼路灯灯泡"
    assert got.deadline > e.deadline + dt.timedelta(days=20)  # counted from the reopening, not round 1
    notes = [i.note or "" for i in await timeline(store, e.id)]
    assert "第1轮办理措施：更换3号楼路灯灯泡" in notes
    assert not any("hh_" in n or "13812345678" in n for n in notes), notes
    assert any("原报事人反映问题未解决" in n for n in notes)
    task = (await store.outbox())[-1].data
    assert task["round"] == 2 and "hh_" not in task["note"] + task["measures"]
    assert dt.datetime.fromisoformat(task["deadline"]) == got.deadline


async def test_reopen_deliberate_waits_for_the_next_session(store):
    await deliberate_view(store)
    res = events.Resolution(matter_id="mat_2", outcome="resolved", measures="疏通", lead_party="property_company")
    data = concluded(res)
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    await set_state(store, (await entry(store, "mat_2")).id, "evaluated")
    reopen = events.MatterReopened(matter_id="mat_2", round=2, reasons=["仍堵"], reopened_at=NOW)
    await run(store, handlers.on_matter_reopened, env("matter.reopened.v1", reopen, subject="mat_2"), reopen)
    waiting = await entry(store, "mat_2")
    assert waiting.state == "reopened" and waiting.deadline is not None  # the round's own clock runs already
    assert await types(store) == ["entry.assigned.v1", "entry.progressed.v1"]
    data2 = concluded(res.model_copy(update={"measures": "改造管道坡度"}), session_id="ses_2")
    await run(store, handlers.on_session_concluded, env("session.concluded.v1", data2, subject="ses_2"), data2)
    got = await entry(store, "mat_2")
    assert got.state == "assigned" and got.round == 2 and got.measures == "改造管道坡度"
    out = await store.outbox()
    assert out[-1].type == "entry.assigned.v1" and out[-1].data["round"] == 2


async def test_tenant_mismatch_is_rejected(store):
    await direct_entry(store)
    data = evaluation()
    with pytest.raises(Reject):
        await run(
            store,
            handlers.on_evaluation_recorded,
            env("evaluation.recorded.v1", data, subject="mat_1", community="xueyuan"),
            data,
        )
    again = triaged()
    with pytest.raises(Reject):
        e = env("matter.triaged.v1", again, subject="mat_1", community="xueyuan", sequence=5)
        await run(store, handlers.on_matter_triaged, e, again)
    reopen = events.MatterReopened(matter_id="mat_1", round=2, reasons=["x"], reopened_at=NOW)
    with pytest.raises(Reject):
        e = env("matter.reopened.v1", reopen, subject="mat_1", community="wenzhuang")
        await run(store, handlers.on_matter_reopened, e, reopen)
    assert (await entry(store)).community == "jinshan"


async def test_overdue_sweep_is_idempotent(store):
    e = await direct_entry(store)
    later = e.deadline + dt.timedelta(minutes=1)
    assert await handlers.sweep_overdue(store.db, now=e.deadline - dt.timedelta(minutes=1)) == 0
    assert await handlers.sweep_overdue(store.db, now=later) == 1
    assert await handlers.sweep_overdue(store.db, now=later) == 0
    got = await entry(store)
    assert got.overdue is True
    assert [i.note for i in await timeline(store, e.id)].count("已超期") == 1


async def test_session_decision_supersedes_a_direct_reassignment(store):
    e = await direct_entry(store)
    await set_state(store, e.id, "completed")
    reopen = events.MatterReopened(matter_id="mat_1", round=2, reasons=["仍不亮"], reopened_at=NOW)
    await run(store, handlers.on_matter_reopened, env("matter.reopened.v1", reopen, subject="mat_1"), reopen)
    res = events.Resolution(
        matter_id="mat_1",
        outcome="resolved",
        measures="供电公司更换线路",
        lead_party="partner_unit",
        lead_unit="供电公司",
    )
    data = concluded(res)
    for _ in range(2):  # the second identical decision records nothing
        await run(store, handlers.on_session_concluded, env("session.concluded.v1", data, subject="ses_1"), data)
    got = await entry(store)
    assert got.state == "assigned" and got.round == 2 and got.lead_unit == "供电公司"
    out = await store.outbox()
    assert [o.type for o in out] == ["entry.assigned.v1"] * 3
    assert out[-1].data["measures"] == "供电公司更换线路" and out[-1].data["lead_party"] == "partner_unit"
