"""Notices through a real WeCom-style webhook server on 127.0.0.1; reminders; failing channels."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.meeting import handlers, notices, planner
from services.meeting.app import spec
from services.meeting.models import MeetingSession, Notice
from services.runtime import directory
from services.runtime.notify import NotifyError, Recipient, WeComNotifier
from tests.integration.notify_servers import Hook, Smtp, use_channel
from tests.support import sqlite_store
from tests.unit.test_meeting_service import NOW, triaged

pytestmark = pytest.mark.integration


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory.clear_cache()
    yield
    directory.clear_cache()


async def all_notices(store) -> list[Notice]:
    async with store.db.session() as s:
        return list((await s.exec(select(Notice).order_by(Notice.id))).all())


async def test_wecom_notifier_posts_text_message(hook):
    await WeComNotifier(hook.url).send(
        Recipient(name="章文斌", wecom_id="zhangwenbin"), "议事会邀请", "时间：明天", community="xueyuan"
    )
    (msg,) = hook.received
    assert msg["msgtype"] == "text" and msg["text"]["content"] == "【议事会邀请】\n时间：明天"
    assert msg["text"]["mentioned_list"] == ["zhangwenbin"]


async def test_wecom_notifier_retries_then_succeeds_and_gives_up_on_errors():
    flaky = Hook(fail_first=2)
    try:
        await WeComNotifier(flaky.url, backoff_s=0.01).send(Recipient(name="x"), "s", "b", community="c")
        assert len(flaky.received) == 3
    finally:
        flaky.close()
    refusing = Hook(errcode=93000)
    try:
        with pytest.raises(NotifyError, match="errcode 93000"):
            await WeComNotifier(refusing.url, attempts=2, backoff_s=0.01).send(
                Recipient(name="x"), "s", "b", community="c"
            )
        assert len(refusing.received) == 2
    finally:
        refusing.close()


async def test_scheduling_notifies_the_group_once_through_the_configured_webhook(store, hook, tmp_path, monkeypatch):
    use_channel(tmp_path, monkeypatch, {"channel": "wecom", "webhook_url": hook.url})
    await store.handle(handlers.on_matter_triaged, *triaged("mat_n1", level="red"))
    await store.handle(handlers.on_matter_triaged, *triaged("mat_n2", level="red"))  # joins: no second invite
    (row,) = await all_notices(store)
    assert (row.kind, row.recipient, row.channel, row.status) == ("invitation", "group", "wecom", "pending")

    now = NOW.astimezone(dt.UTC)
    assert await notices.deliver_due(store.db, now) == {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}
    (msg,) = hook.received
    content = msg["text"]["content"]
    assert content.startswith("【议事会邀请：紧急议事会】") and "mat_n1" in content and "mat_n2" in content
    assert "地点：学苑社区党群服务中心一楼五方议事厅" in content and "2025-03-04 11:00" in content
    # Delivered once: a second run sends nothing.
    assert (await notices.deliver_due(store.db, now))["sent"] == 0 and len(hook.received) == 1


async def test_failing_webhook_never_breaks_scheduling(store, tmp_path, monkeypatch):
    broken = Hook(status=500)
    try:
        use_channel(tmp_path, monkeypatch, {"channel": "wecom", "webhook_url": broken.url})
        await store.handle(handlers.on_matter_triaged, *triaged("mat_f1", level="red"))
        async with store.db.session() as s:
            (session,) = (await s.exec(select(MeetingSession))).all()
        assert session.status == "scheduled"
        now = NOW.astimezone(dt.UTC)
        assert (await notices.deliver_due(store.db, now))["retry"] == 1
        (row,) = await all_notices(store)
        assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
        assert row.due_at.replace(tzinfo=dt.UTC) > now  # backs off; the next run is not hammering it
        # The webhook comes back: the pending notice goes out on a later run.
        broken.status = 200
        later = now + dt.timedelta(minutes=5)
        assert (await notices.deliver_due(store.db, later))["sent"] == 1
    finally:
        broken.close()
    # An unreachable webhook (nothing listening) is the same: scheduling goes on.
    use_channel(tmp_path, monkeypatch, {"channel": "wecom", "webhook_url": broken.url})
    await store.handle(handlers.on_matter_triaged, *triaged("mat_f2", level="red", compound="yucai"))
    assert len([n for n in await all_notices(store) if n.status == "pending"]) == 1


async def test_reminders_24h_and_1h_are_sent_once_per_recipient(store):
    # A fixed-day matter: the session is on Thu 2025-03-13 14:30, created well before.
    await store.handle(handlers.on_matter_triaged, *triaged("mat_rm1"))
    now = NOW.astimezone(dt.UTC)
    await notices.deliver_due(store.db, now)
    start = dt.datetime(2025, 3, 13, 6, 30, tzinfo=dt.UTC)
    day_before = start - dt.timedelta(hours=20)
    for _ in range(2):  # two runs (or two replicas): one reminder each
        await notices.run(store.uow, store.db, now=day_before)
    hour_before = start - dt.timedelta(minutes=40)
    await notices.run(store.uow, store.db, now=hour_before)
    await notices.run(store.uow, store.db, now=hour_before + dt.timedelta(minutes=1))
    rows = await all_notices(store)
    by_kind: dict[str, list[Notice]] = {}
    for n in rows:
        by_kind.setdefault(n.kind, []).append(n)
    assert set(by_kind) == {"invitation", "reminder_24h.0", "reminder_1h.0"}
    invitees = {n.recipient for n in by_kind["invitation"]}
    assert len(invitees) > 10 and "party_org:章文斌" in invitees
    for kind in ("reminder_24h.0", "reminder_1h.0"):
        assert {n.recipient for n in by_kind[kind]} == invitees and len(by_kind[kind]) == len(invitees)
        assert all(n.status == "sent" for n in by_kind[kind])
    assert "24小时后" in by_kind["reminder_24h.0"][0].subject and "1小时后" in by_kind["reminder_1h.0"][0].subject


async def test_smtp_channel_mails_each_invitee_with_an_address(store, tmp_path, monkeypatch):
    import email

    smtp = Smtp()
    try:
        block = {"channel": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_sender": "hall@example.org"}
        use_channel(tmp_path, monkeypatch, block)
        await store.handle(handlers.on_matter_triaged, *triaged("mat_m1", level="red"))
        counts = await notices.deliver_due(store.db, NOW.astimezone(dt.UTC))
        # Only 傅振宇 has an e-mail address in the demo roster; the others fail at once (not retried).
        assert counts["sent"] == 1 and counts["failed"] == len(await all_notices(store)) - 1
        assert all("no e-mail address" in n.last_error for n in await all_notices(store) if n.status == "failed")
        (raw,) = smtp.messages
        msg = email.message_from_bytes(raw)
        assert msg["To"] == "fuzhenyu@jincheng-wy.example"
        assert "紧急议事会" in str(email.header.make_header(email.header.decode_header(msg["Subject"])))
        assert "学苑社区党群服务中心" in msg.get_payload(decode=True).decode()
    finally:
        smtp.close()
