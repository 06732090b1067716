"""matter.closed.v1 in meeting: a crossed-off matter leaves the queue and every agenda not yet held."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.meeting import closures, handlers, notices, planner, service
from services.meeting.app import spec, subscriptions
from services.meeting.models import MeetingSession, Notice, QueuedMatter
from services.runtime.consumer import Reject
from services.runtime.notify import Recipient
from services.runtime.settings import Settings
from tests.unit.test_meeting_service import NOW, agenda, matter, scheduled, sessions, triaged

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
async def store(tmp_path):
    from tests.support import sqlite_store

    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


def closed(matter_id: str, *, community: str = "xueyuan") -> tuple[Envelope, events.MatterClosed]:
    data = events.MatterClosed(
        matter_id=matter_id, entry_id=f"ent_{matter_id}", by="stf_party", closed_at=NOW + dt.timedelta(hours=1)
    )
    env = Envelope.new(
        type="matter.closed.v1", source="/services/ledger", community=community, subject=matter_id, data=data
    )
    return env, data


async def session_of(store, session_id: str) -> MeetingSession:
    async with store.db.session() as s:
        return await s.get(MeetingSession, session_id)


async def notice_kinds(store, session_id: str) -> set[str]:
    async with store.db.session() as s:
        return set((await s.exec(select(Notice.kind).where(Notice.session_id == session_id))).all())


def test_meeting_binds_matter_closed_to_its_matters_queue():
    (sub,) = subscriptions(Settings())
    assert ("hall.events", "matter.closed.v1") in sub.spec.bindings
    assert sub.handlers["matter.closed.v1"] is handlers.on_matter_closed


async def test_closed_matter_leaves_the_fixed_day_agenda_and_frees_its_place(store):
    for i in range(7):  # 学苑 takes 6 topics per session: mat_y6 waits in the queue
        await store.handle(handlers.on_matter_triaged, *triaged(f"mat_y{i}"))
    (fixed,) = await sessions(store)
    assert (await matter(store, "mat_y6")).state == "queued"
    before = len(scheduled(await store.outbox()))

    await store.handle(handlers.on_matter_closed, *closed("mat_y2"))

    assert (await matter(store, "mat_y2")).state == "closed"
    assert (await matter(store, "mat_y2")).session_id is None
    # The crossed-off matter no longer blocks the waiting one: it takes the freed place at once.
    assert await agenda(store, fixed.id) == ["mat_y0", "mat_y1", "mat_y3", "mat_y4", "mat_y5", "mat_y6"]
    assert (await matter(store, "mat_y6")).state == "scheduled"
    announced = scheduled(await store.outbox())[before:]
    assert announced and announced[-1].data["agenda"] == ["mat_y0", "mat_y1", "mat_y3", "mat_y4", "mat_y5", "mat_y6"]
    # The session's record says what happened and why.
    note = (await session_of(store, fixed.id)).history[-1]
    assert note["change"] == "matter_closed" and note["matter_id"] == "mat_y2" and note["reason"]


async def test_closed_matter_leaves_the_waiting_queue(store):
    for i in range(7):
        await store.handle(handlers.on_matter_triaged, *triaged(f"mat_y{i}"))
    await store.handle(handlers.on_matter_closed, *closed("mat_y6"))
    assert (await matter(store, "mat_y6")).state == "closed"
    # The periodic planner never picks it up again, even when places free up.
    async with store.uow() as uow:
        assert await service.queued_matters(uow, "xueyuan") == []


async def test_emergency_session_whose_only_matter_closed_is_cancelled_with_a_reason(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r1", level="red"))
    (emergency,) = await sessions(store)
    await store.handle(handlers.on_matter_closed, *closed("mat_r1"))

    s = await session_of(store, emergency.id)
    assert s.status == "cancelled" and s.sequence == 1
    assert "销号" in s.minutes["reason"]
    last = scheduled(await store.outbox())[-1]
    assert last.subject == emergency.id and last.data["status"] == "cancelled"
    assert last.data["agenda"] == ["mat_r1"]
    # Invitees get the existing cancellation notice, rendered with the reason.
    assert "cancelled" in await notice_kinds(store, emergency.id)
    sent: list[tuple[str, str]] = []

    class Recording:
        channel, broadcast = "log", False

        async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None:
            sent.append((subject, body))

    await notices.deliver_due(store.db, NOW + dt.timedelta(minutes=1), notifier_of=lambda c: Recording())
    cancels = [b for subj, b in sent if subj.startswith("议事会取消")]
    assert cancels and "销号" in cancels[0]


async def test_emergency_session_keeps_its_other_matters(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r1", level="red"))
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r2", level="red", category="elevator"))
    (emergency,) = await sessions(store)
    await store.handle(handlers.on_matter_closed, *closed("mat_r1"))
    assert (await session_of(store, emergency.id)).status == "scheduled"
    assert await agenda(store, emergency.id) == ["mat_r2"]
    assert scheduled(await store.outbox())[-1].data["agenda"] == ["mat_r2"]


async def test_concluded_sessions_are_left_alone(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))
    (fixed,) = await sessions(store)
    async with store.db.session() as s:
        row = await s.get(MeetingSession, fixed.id)
        row.status = "concluded"
        s.add(row)
        q = await s.get(QueuedMatter, "mat_y1")
        q.state = "resolved"
        s.add(q)
        await s.commit()
    before = await store.outbox()
    await store.handle(handlers.on_matter_closed, *closed("mat_y1"))
    assert await agenda(store, fixed.id) == ["mat_y1"]  # the record of what was deliberated stays
    assert (await session_of(store, fixed.id)).history == []
    assert len(await store.outbox()) == len(before)
    assert (await matter(store, "mat_y1")).state == "closed"


async def test_closed_is_idempotent_and_a_later_regrade_does_not_requeue(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))
    env, data = closed("mat_y1")
    await store.handle(handlers.on_matter_closed, env, data)
    outbox = await store.outbox()
    (fixed,) = await sessions(store)
    history = (await session_of(store, fixed.id)).history
    await store.handle(handlers.on_matter_closed, *closed("mat_y1"))  # a second copy under a new event id
    assert len(await store.outbox()) == len(outbox)
    assert (await session_of(store, fixed.id)).history == history
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))  # a late grade event
    assert (await matter(store, "mat_y1")).state == "closed"
    assert await agenda(store, fixed.id) == []


async def test_reopened_after_close_is_deliberated_again(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))
    await store.handle(handlers.on_matter_closed, *closed("mat_y1"))
    data = events.MatterReopened(matter_id="mat_y1", round=2, reasons=["不满意"], reopened_at=NOW)
    env = Envelope.new(
        type="matter.reopened.v1", source="/services/feedback", community="xueyuan", subject="mat_y1", data=data
    )
    await store.handle(handlers.on_matter_reopened, env, data)
    assert (await matter(store, "mat_y1")).state == "scheduled"


async def test_closed_for_another_community_is_rejected_and_unknown_is_ignored(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_closed, *closed("mat_y1", community="jinshan"))
    assert (await matter(store, "mat_y1")).state == "scheduled"
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_closed, *closed("mat_x", community="nowhere"))
    before = await store.outbox()
    await store.handle(handlers.on_matter_closed, *closed("mat_never_deliberated"))
    assert await store.outbox() == before
    assert await matter(store, "mat_never_deliberated") is None


async def test_a_late_close_of_an_earlier_round_does_not_withdraw_the_reopened_matter(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_y1"))
    env, data = closed("mat_y1")
    await store.handle(handlers.on_matter_closed, env, data)
    again = events.MatterReopened(
        matter_id="mat_y1", round=2, reasons=["不满意"], reopened_at=data.closed_at + dt.timedelta(days=3)
    )
    renv = Envelope.new(
        type="matter.reopened.v1", source="/services/feedback", community="xueyuan", subject="mat_y1", data=again
    )
    await store.handle(handlers.on_matter_reopened, renv, again)
    # A copy of the round-1 close arrives late (e.g. from a retry queue) under another event id.
    await store.handle(handlers.on_matter_closed, *closed("mat_y1"))
    assert (await matter(store, "mat_y1")).state == "scheduled"


def test_reschedule_notice_reads_the_last_move_not_a_closure_note():
    from services.runtime.directory import load_directory

    s = MeetingSession(
        id="ses_x",
        community="xueyuan",
        kind="fixed_day",
        starts_at=dt.datetime(2026, 12, 11, 6, 30, tzinfo=dt.UTC),
        place="议事厅",
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        history=[
            {"from": "2026-12-10T06:30:00+00:00", "to": "x", "at": "x", "by": "x", "reason": "场地检修"},
            {"at": "x", "by": "x", "change": "matter_closed", "matter_id": "mat_1", "reason": closures.CLOSED_NOTE},
        ],
        sequence=1,
    )
    _subject, body = notices.render("rescheduled.1", s, [], load_directory().community("xueyuan"))
    assert "原定：2026-12-10 14:30；改期原因：场地检修" in body


def merged(matter_id: str, into: str, *, community: str = "xueyuan") -> tuple[Envelope, events.MatterMerged]:
    data = events.MatterMerged(
        matter_id=matter_id,
        into=into,
        into_title="同一问题",
        report_ids=["rpt_1"],
        by="stf_party",
        reason="同一个漏水",
        merged_at=NOW + dt.timedelta(hours=1),
    )
    env = Envelope.new(
        type="matter.merged.v1", source="/services/triage", community=community, subject=matter_id, data=data
    )
    return env, data


async def test_merged_matter_leaves_the_agenda_with_a_merge_note(store):
    (sub,) = subscriptions(Settings())
    assert sub.handlers["matter.merged.v1"] is handlers.on_matter_merged
    for i in range(3):
        await store.handle(handlers.on_matter_triaged, *triaged(f"mat_y{i}"))
    (fixed,) = await sessions(store)
    await store.handle(handlers.on_matter_merged, *merged("mat_y1", "mat_y0"))
    assert (await matter(store, "mat_y1")).state == "closed"
    assert await agenda(store, fixed.id) == ["mat_y0", "mat_y2"]
    note = (await session_of(store, fixed.id)).history[-1]
    assert note["change"] == "matter_merged" and "合并" in note["reason"]
    # Again (redelivered under another id): nothing more changes.
    n = len(await store.outbox())
    await store.handle(handlers.on_matter_merged, *merged("mat_y1", "mat_y0"))
    assert len(await store.outbox()) == n


async def test_emergency_session_of_a_merged_matter_is_cancelled(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_r1", level="red"))
    (emergency,) = await sessions(store)
    await store.handle(handlers.on_matter_merged, *merged("mat_r1", "mat_r0"))
    s = await session_of(store, emergency.id)
    assert s.status == "cancelled" and "合并" in s.minutes["reason"]
