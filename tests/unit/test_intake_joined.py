"""A report joining a matter already under way shows the matter's current status at once (issue 15)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from services.contracts import events
from services.intake import handlers
from services.intake import service as intake_service
from services.intake.app import spec
from services.runtime.settings import get_settings
from tests.support import sqlite_store
from tests.unit.test_intake_service import _event, message, one_report, reports, task, triaged

pytestmark = pytest.mark.unit


@pytest.fixture
async def store(tmp_path, monkeypatch):
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


async def file(store, text: str, msg_id: str, *, community: str = "xueyuan") -> str:
    env, data = message(text, msg_id=msg_id, community=community)
    await store.handle(handlers.on_channel_message, env, data)
    return next(r.id for r in await reports(store) if r.channel_message_id == msg_id)


async def tri(store, matter_id: str, ids: list[str], *, community: str = "xueyuan") -> None:
    t = triaged(matter_id, ids)
    await store.handle(
        handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage", community=community), t
    )


async def on_entry(store, matter_id: str, state: str, seq: int, *, note: str | None = None, community: str = "xueyuan"):
    a = task(matter_id, state, note=note)
    await store.handle(handlers.on_entry, _event(f"entry.{state}.v1", a, sequence=seq, community=community), a)


async def joined_report_takes_the_matters_status(store) -> None:
    """The scenario, shared with the PostgreSQL run in tests/integration."""
    first = await file(store, "金泰和庄12号楼2单元下水道又堵了", "m-join-1")
    await tri(store, "mat_j", [first])
    await on_entry(store, "mat_j", "assigned", 1)
    await on_entry(store, "mat_j", "in_progress", 2, note="已联系施工队，周三进场")

    late = await file(store, "12号楼2单元下水道堵了好几天了", "m-join-2")
    await tri(store, "mat_j", [first, late])

    r = await one_report(store, late)
    assert r.matter_id == "mat_j"
    assert r.status == "in_progress" and r.responsible == "江西锦程物业服务有限公司"
    assert r.status_note == "已联系施工队，周三进场" and r.status_seq == 2
    assert r.expected_at.replace(tzinfo=dt.UTC) == dt.datetime(2025, 7, 31, 18, tzinfo=dt.UTC)
    # The first report is unchanged by the join.
    before = await one_report(store, first)
    assert (before.status, before.status_seq, before.responsible) == ("in_progress", 2, r.responsible)
    # A stale task event cannot move the joined report back; a newer one moves both.
    await on_entry(store, "mat_j", "assigned", 1)
    assert (await one_report(store, late)).status == "in_progress"
    await on_entry(store, "mat_j", "completed", 3, note="主管道已更换")
    assert {(x.status, x.status_note) for x in await reports(store)} == {("completed", "主管道已更换")}


async def test_a_report_joining_an_assigned_matter_shows_its_status_and_unit(store):
    await joined_report_takes_the_matters_status(store)


async def test_a_report_joining_a_reopened_matter_shows_reopened(store):
    first = await file(store, "金泰和庄12号楼2单元下水道又堵了", "m-ro-1")
    await tri(store, "mat_r", [first])
    await on_entry(store, "mat_r", "completed", 1)
    ro = events.MatterReopened(matter_id="mat_r", round=2, reasons=["仍然反水"], reopened_at=dt.datetime.now(dt.UTC))
    await store.handle(handlers.on_matter_reopened, _event("matter.reopened.v1", ro, source="feedback"), ro)
    late = await file(store, "下水道还是反水", "m-ro-2")
    await tri(store, "mat_r", [first, late])
    r = await one_report(store, late)
    assert (r.status, r.status_note, r.responsible) == ("reopened", handlers.REOPENED_NOTE, "江西锦程物业服务有限公司")


async def test_a_new_matter_still_starts_as_triaged(store):
    a, b = await file(store, "路灯不亮", "m-new-1"), await file(store, "路灯还是不亮", "m-new-2")
    await tri(store, "mat_n", [a, b])
    assert {(r.status, r.responsible, r.status_seq) for r in await reports(store)} == {("triaged", None, 0)}


async def test_another_communitys_reports_never_lend_their_status(store):
    # A forged or misrouted event naming another community's matter id: nothing of that community leaks.
    theirs = await file(store, "金湖花园3号楼路灯不亮", "m-other-1", community="jinshan")
    await tri(store, "mat_x", [theirs], community="jinshan")
    await on_entry(store, "mat_x", "assigned", 1, community="jinshan")
    ours = await file(store, "金泰和庄路灯不亮", "m-ours-1")
    await tri(store, "mat_x", [ours])
    r = await one_report(store, ours)
    assert (r.status, r.responsible, r.status_note) == ("triaged", None, None)


async def test_joining_still_costs_one_statement(store):
    first = await file(store, "金泰和庄12号楼2单元下水道又堵了", "m-one-1")
    await tri(store, "mat_o", [first])
    await on_entry(store, "mat_o", "assigned", 1)
    late = await file(store, "下水道堵了", "m-one-2")
    statements: list[str] = []

    @event.listens_for(store.db.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")) and " report" in statement:
            statements.append(statement.split()[0])

    await tri(store, "mat_o", [first, late])
    assert statements == ["UPDATE"]
    assert (await one_report(store, late)).status == "assigned"
