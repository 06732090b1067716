"""Meeting service handlers on a real SQLite store: queueing, emergency and fixed-day planning."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.meeting import domain, handlers, planner, service
from services.meeting.app import spec
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, aware
from services.runtime.consumer import Reject
from services.runtime.directory import PARTIES, load_directory
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

# A fixed clock: Tuesday 2025-03-04 10:00 in Jinxi (no holiday nearby).
NOW = dt.datetime(2025, 3, 4, 10, 0, tzinfo=domain.TZ)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


def triaged(
    matter_id: str,
    *,
    level: str = "yellow",
    route: str = "deliberate",
    compound: str | None = "jintaihezhuang",
    category: str = "drainage",
    community: str = "xueyuan",
) -> tuple[Envelope, events.MatterTriaged]:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=[f"rpt_{matter_id}"],
        title=f"{matter_id} 下水道反复堵塞",
        place=events.Place(compound=compound, building="12"),
        kind="problem",
        category=category,
        level=level,
        route=route,
        confidence=0.9,
        households=12,
        triaged_at=NOW,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/triage", community=community, subject=matter_id, data=data
    )
    return env, data


def scheduled(outbox: list[Envelope]) -> list[Envelope]:
    return [e for e in outbox if e.type == "session.scheduled.v1"]


async def sessions(store) -> list[MeetingSession]:
    async with store.db.session() as s:
        return list((await s.exec(select(MeetingSession).order_by(MeetingSession.created_at))).all())


async def agenda(store, session_id: str) -> list[str]:
    async with store.db.session() as s:
        q = select(AgendaItem.matter_id).where(AgendaItem.session_id == session_id).order_by(AgendaItem.position)
        return list((await s.exec(q)).all())


async def matter(store, matter_id: str) -> QueuedMatter | None:
    async with store.db.session() as s:
        return await s.get(QueuedMatter, matter_id)


async def test_red_matter_convenes_emergency_session_with_five_parties(store):
    env, data = triaged("mat_red1", level="red", category="drainage")
    await store.handle(handlers.on_matter_triaged, env, data)

    out = scheduled(await store.outbox())
    assert len(out) == 1
    ev = out[0]
    assert ev.community == "xueyuan" and ev.subject == ev.data["session_id"]
    payload = events.SessionScheduled.model_validate(ev.data)
    assert payload.kind == "emergency" and payload.agenda == ["mat_red1"]
    assert payload.starts_at == domain.emergency_slot(NOW, within_hours=24)
    parties = {i.party for i in payload.invitees}
    assert set(PARTIES) <= parties
    roster = load_directory().community("xueyuan").roster
    names = {i.name for i in payload.invitees}
    assert all(m.name in names for p in PARTIES for m in roster[p])
    # Drainage brings in the departments that handle it, and no others.
    depts = {i.unit for i in payload.invitees if i.party == "department"}
    assert depts == {"zhufang_baozhang", "zilaishui"}
    assert (await matter(store, "mat_red1")).state == "scheduled"


async def test_second_red_matter_same_compound_joins_emergency_session(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r1", level="red"))
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r2", level="red", category="elevator"))
    # Another compound gets its own session.
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r3", level="red", compound="yucai"))

    all_sessions = await sessions(store)
    assert len(all_sessions) == 2
    first = next(s for s in all_sessions if s.compound == "jintaihezhuang")
    assert await agenda(store, first.id) == ["mat_r1", "mat_r2"]
    out = [e for e in scheduled(await store.outbox()) if e.subject == first.id]
    assert out[-1].data["agenda"] == ["mat_r1", "mat_r2"]
    assert [e.sequence for e in out] == [1, 2]
    # Elevator brings in the housing-construction bureau too.
    assert "zhujian" in {i["unit"] for i in out[-1].data["invitees"]}


async def test_yellow_matter_goes_to_next_fixed_day_session(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1", level="yellow"))
    await store.handle(
        handlers.on_matter_triaged, *triaged("mat_g1", level="green", community="jinshan", compound="xiugumingyuan")
    )

    by_community = {s.community: s for s in await sessions(store)}
    xueyuan, jinshan = by_community["xueyuan"], by_community["jinshan"]
    # 学苑: 每月第二个星期四 14:30 -> Thursday 13 March 2025; 金山: 每月15日 09:00 -> Saturday 15 March,
    # which the working calendar moves to Monday 17 March.
    assert aware(xueyuan.starts_at) == dt.datetime(2025, 3, 13, 14, 30, tzinfo=domain.TZ)
    assert aware(jinshan.starts_at) == dt.datetime(2025, 3, 17, 9, 0, tzinfo=domain.TZ)
    assert xueyuan.kind == "fixed_day" and xueyuan.capacity == 6
    assert xueyuan.place == "学苑社区党群服务中心一楼五方议事厅"
    assert await agenda(store, xueyuan.id) == ["mat_y1"]
    ev = next(e for e in scheduled(await store.outbox()) if e.subject == xueyuan.id)
    assert ev.data["kind"] == "fixed_day" and ev.data["agenda"] == ["mat_y1"]


async def test_fixed_day_session_full_leaves_matter_queued(store):
    for i in range(7):  # 学苑 takes 6 topics per session
        await store.handle(handlers.on_matter_triaged, *triaged(f"mat_y{i}"))
    (s,) = await sessions(store)
    assert len(await agenda(store, s.id)) == 6
    assert (await matter(store, "mat_y6")).state == "queued"


async def test_direct_route_is_kept_but_not_planned(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_d1", level="red", route="direct"))
    assert await store.outbox() == []
    assert await sessions(store) == []
    qm = await matter(store, "mat_d1")
    assert (qm.state, qm.title, qm.level) == ("direct", "mat_d1 下水道反复堵塞", "red")


async def test_a_direct_matter_written_by_core_is_the_row_the_orm_writes(store, monkeypatch):
    """A first direct grade takes one Core insert (issue 23); its row is the one the ORM path writes."""
    env, data = triaged("mat_core", level="green", route="direct")
    await store.handle(handlers.on_matter_triaged, env.model_copy(update={"sequence": 3}), data)

    async def known(uow, row):
        return False  # as if the matter were known: the ORM path constructs and flushes it

    monkeypatch.setattr(handlers, "_insert_direct", known)
    env, data = triaged("mat_orm", level="green", route="direct")
    await store.handle(handlers.on_matter_triaged, env.model_copy(update={"sequence": 3}), data)
    core, orm = await matter(store, "mat_core"), await matter(store, "mat_orm")
    skip = {"matter_id", "title"}
    assert core.model_dump(exclude=skip) == orm.model_dump(exclude=skip)
    assert (core.state, core.grade_seq, core.households, core.round, core.pinned) == ("direct", 3, 12, 1, False)


async def test_a_direct_matter_graded_again_follows_the_newest_grade(store):
    """A known matter's triage event (a grown matter) updates it; an older one than applied is dropped."""
    env, data = triaged("mat_grow", level="green", route="direct")
    await store.handle(handlers.on_matter_triaged, env.model_copy(update={"sequence": 2}), data)
    grown = data.model_copy(update={"households": 30, "level": "yellow", "title": "整栋楼下水道堵塞"})
    await store.handle(handlers.on_matter_triaged, env.model_copy(update={"sequence": 4}), grown)
    late = data.model_copy(update={"level": "red"})
    await store.handle(handlers.on_matter_triaged, env.model_copy(update={"sequence": 3}), late)
    qm = await matter(store, "mat_grow")
    assert (qm.level, qm.households, qm.title, qm.grade_seq, qm.state) == (
        "yellow",
        30,
        "整栋楼下水道堵塞",
        4,
        "direct",
    )
    env, data = triaged("mat_grow", route="direct", community="jinshan")
    with pytest.raises(Reject):  # another community's matter: refused, not inserted nor changed
        await store.handle(handlers.on_matter_triaged, env, data)
    assert (await matter(store, "mat_grow")).community == "xueyuan"


async def test_a_regrade_before_the_triage_event_in_one_transaction(store):
    """A group commit's units share a session: a matter the ORM holds unwritten is not inserted twice."""
    regraded = events.MatterRegraded(
        matter_id="mat_pair",
        level="green",
        route="direct",
        category="drainage",
        previous=events.GradeSnapshot(level="yellow", route="direct", category="drainage"),
        reason="现场核实",
        by="zhang",
        regraded_at=NOW,
    )
    renv = Envelope.new(type="matter.regraded.v1", source="/services/triage", community="xueyuan", data=regraded)
    tenv, tdata = triaged("mat_pair", route="direct")
    async with store.uow() as uow:
        await handlers.on_matter_regraded(uow, renv.model_copy(update={"sequence": 2}), regraded)
        await handlers.on_matter_triaged(uow, tenv.model_copy(update={"sequence": 1}), tdata)
        await uow.commit()
    qm = await matter(store, "mat_pair")
    assert (qm.level, qm.grade_seq, qm.title) == ("green", 2, handlers.UNTITLED)


async def test_reopened_direct_matter_comes_to_a_session_under_its_real_title(store):
    # Issue 22: a reopened direct matter reached the agenda as "事项 mat_…（复议）", category other, yellow.
    await store.handle(handlers.on_matter_triaged, *triaged("mat_d2", route="direct", category="lighting"))
    data = events.MatterReopened(matter_id="mat_d2", round=2, reasons=["仍然不亮"], reopened_at=NOW)
    env = Envelope.new(type="matter.reopened.v1", source="/services/feedback", community="xueyuan", data=data)
    await store.handle(handlers.on_matter_reopened, env, data)
    qm = await matter(store, "mat_d2")
    assert (qm.title, qm.category, qm.level, qm.round) == ("mat_d2 下水道反复堵塞", "lighting", "yellow", 2)
    assert qm.state == "scheduled" and "mat_d2" in await agenda(store, qm.session_id)


async def test_direct_matter_regraded_to_deliberate_joins_the_queue(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_d3", route="direct"))
    data = events.MatterRegraded(
        matter_id="mat_d3",
        level="yellow",
        route="deliberate",
        category="drainage",
        previous=events.GradeSnapshot(level="green", route="direct", category="drainage"),
        reason="涉及公共维修资金",
        by="party_org_1",
        regraded_at=NOW,
    )
    env = Envelope.new(type="matter.regraded.v1", source="/services/triage", community="xueyuan", data=data)
    await store.handle(handlers.on_matter_regraded, env, data)
    assert (await matter(store, "mat_d3")).state == "scheduled"


async def test_duplicate_event_adds_no_second_agenda_item(store):
    env, data = triaged("mat_dup")
    await store.handle(handlers.on_matter_triaged, env, data)
    await store.handle(handlers.on_matter_triaged, env, data)
    (s,) = await sessions(store)
    assert await agenda(store, s.id) == ["mat_dup"]
    assert len(scheduled(await store.outbox())) == 1


async def test_regrade_to_red_moves_matter_to_emergency_session(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_up"))
    (fixed,) = await sessions(store)
    data = events.MatterRegraded(
        matter_id="mat_up",
        level="red",
        route="deliberate",
        category="drainage",
        previous=events.GradeSnapshot(level="yellow", route="deliberate", category="drainage"),
        by="zhang",
        reason="污水外溢",
        regraded_at=NOW,
    )
    env = Envelope.new(type="matter.regraded.v1", source="/services/triage", community="xueyuan", data=data)
    await store.handle(handlers.on_matter_regraded, env, data)
    assert await agenda(store, fixed.id) == []
    emergency = next(s for s in await sessions(store) if s.kind == "emergency")
    assert await agenda(store, emergency.id) == ["mat_up"]
    last_fixed = [e for e in scheduled(await store.outbox()) if e.subject == fixed.id][-1]
    assert last_fixed.data["agenda"] == []


async def test_reopened_matter_is_queued_again_and_planned(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_re"))
    async with store.db.session() as s:  # as if the session concluded and resolved it
        qm = await s.get(QueuedMatter, "mat_re")
        qm.state, qm.session_id = "resolved", None
        s.add(qm)
        await s.commit()
    data = events.MatterReopened(matter_id="mat_re", round=2, reasons=["仍然堵塞"], reopened_at=NOW)
    env = Envelope.new(type="matter.reopened.v1", source="/services/feedback", community="xueyuan", data=data)
    (fixed,) = await sessions(store)
    async with store.db.session() as s:  # the old session is over
        row = await s.get(MeetingSession, fixed.id)
        row.status = "concluded"
        s.add(row)
        await s.commit()
    await store.handle(handlers.on_matter_reopened, env, data)
    qm = await matter(store, "mat_re")
    assert qm.round == 2 and qm.state == "scheduled"
    new = next(s for s in await sessions(store) if s.status == "scheduled")
    assert new.kind == "fixed_day" and new.id != fixed.id
    assert await agenda(store, new.id) == ["mat_re"]
    # The same reopen again changes nothing.
    before = len(await store.outbox())
    await store.handle(handlers.on_matter_reopened, env, data)
    assert len(await store.outbox()) == before


async def test_reopened_unknown_matter_is_queued_for_deliberation(store):
    data = events.MatterReopened(matter_id="mat_new", round=2, reasons=["不满意"], reopened_at=NOW)
    env = Envelope.new(type="matter.reopened.v1", source="/services/feedback", community="wenzhuang", data=data)
    await store.handle(handlers.on_matter_reopened, env, data)
    qm = await matter(store, "mat_new")
    assert qm.round == 2 and qm.community == "wenzhuang" and qm.state == "scheduled"
    assert "mat_" not in qm.title  # a person never reads an id


async def test_event_for_another_communitys_matter_is_rejected(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_t1"))
    env, data = triaged("mat_t1", community="jinshan")
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_triaged, env, data)
    env, data = triaged("mat_t2", community="nowhere")
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_triaged, env, data)


async def test_planner_fills_free_places_by_agenda_priority_and_is_idempotent(store):
    now = NOW.astimezone(dt.UTC)
    async with store.db.session() as s:
        for i, (level, carried) in enumerate([("yellow", 0), ("green", 2), ("green", 0)]):
            s.add(
                QueuedMatter(
                    matter_id=f"mat_q{i}",
                    community="wenzhuang",
                    category="road",
                    level=level,
                    route="deliberate",
                    title=f"q{i}",
                    queued_at=now - dt.timedelta(days=i),
                    carried_over=carried,
                    updated_at=now,
                )
            )
        await s.commit()
    assert await service.plan_all(store.uow) == 3
    assert await service.plan_all(store.uow) == 0
    (fixed,) = await sessions(store)
    # The twice carried-over green outranks the fresh yellow.
    assert await agenda(store, fixed.id) == ["mat_q1", "mat_q0", "mat_q2"]
    assert len(scheduled(await store.outbox())) == 1
