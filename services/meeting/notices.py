"""Notices to a session's invitees: invitations, changes (reschedule, cancel) and reminders.

Notices are queued in the scheduling transaction (one row per session, kind and recipient, unique, so
a notice is sent at most once) and delivered afterwards by a periodic job. Delivery runs outside any
scheduling transaction: a failing channel keeps the row pending with a backoff and never undoes or
blocks scheduling. The text is rendered at delivery, from the session as it then is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select

from services.meeting import domain
from services.meeting.models import UTC, AgendaItem, MeetingSession, Notice, QueuedMatter, aware, utc
from services.runtime.db import Database
from services.runtime.directory import Community, load_directory
from services.runtime.notify import Notifier, NotifyError, Recipient, Undeliverable, notifier_for
from services.runtime.privacy import scrub_text
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

KIND_ZH = {"emergency": "紧急议事会", "fixed_day": "固定议事日议事会", "site_inspection": "现场勘察"}
BATCH = 50
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
GROUP = "group"


def recipient_keys(community: Community, s: MeetingSession, notifier: Notifier) -> list[str]:
    """Who gets a notice: the group once for broadcast channels, else every invitee."""
    if notifier.broadcast:
        return [GROUP]
    keys = [f"{i['party']}:{i['name']}" for i in s.invitees]
    return list(dict.fromkeys(keys))[:200]


def recipient(community: Community, key: str) -> Recipient:
    """The addresses of a recipient key, from the directory roster."""
    if key == GROUP:
        return Recipient(name=f"{community.name}五方议事群", key=key)
    party, _, name = key.partition(":")
    member = next((m for m in community.roster.get(party, []) if m.name == name), None)
    # A compound meeting's members (小区议事会) and grid workers need not be on the hall's roster.
    member = member or next(
        (m for c in community.compounds if c.hall for m in c.hall.members.get(party, []) if m.name == name), None
    )
    member = member or next((m for g in community.grids for m in g.members if m.name == name), None)
    if member is None:
        return Recipient(name=name, key=key)
    email = getattr(member, "email", None)  # grid members carry a phone and a WeCom id only
    return Recipient(name=name, key=key, email=email, phone=member.phone, wecom_id=member.wecom_id)


async def enqueue(uow: UnitOfWork, s: MeetingSession, kind: str, community: Community, *, now: datetime) -> int:
    """Queue one notice per recipient; already-queued (session, kind, recipient) rows are left alone."""
    notifier = notifier_for(community.notices)
    keys = recipient_keys(community, s, notifier)
    if not keys:
        return 0
    rows = [
        {
            "session_id": s.id,
            "kind": kind,
            "recipient": key,
            "community": s.community,
            "channel": notifier.channel,
            "subject": "",
            "body": "",
            "status": "pending",
            "attempts": 0,
            "due_at": utc(now),
            "created_at": utc(now),
        }
        for key in keys
    ]
    bind = uow.session.bind
    ins = pg_insert if bind is not None and bind.dialect.name == "postgresql" else sqlite_insert
    await uow.session.exec(ins(Notice.__table__).values(rows).on_conflict_do_nothing())
    return len(rows)


def _local(value: datetime) -> str:
    return aware(value).astimezone(domain.TZ).strftime("%Y-%m-%d %H:%M")


def render(kind: str, s: MeetingSession, titles: list[str], community: Community) -> tuple[str, str]:
    """Subject and body of a notice (Chinese; agenda titles scrubbed of personal data)."""
    what = KIND_ZH.get(s.kind, s.kind)
    head = {
        "invitation": f"议事会邀请：{what}",
        "cancelled": f"议事会取消：{what}",
        "reminder_24h": f"议事会提醒（24小时后）：{what}",
        "reminder_1h": f"议事会提醒（1小时后）：{what}",
    }
    base = kind.split(".", 1)[0]
    subject = head.get(base) or f"议事会改期：{what}"
    lines = [f"{community.name}{what}", f"时间：{_local(s.starts_at)}", f"地点：{s.place}"]
    # The record also notes agenda changes (a crossed-off matter); the notice is about the last move.
    moves = [h for h in s.history if "from" in h]
    if base == "rescheduled" and moves:
        last = moves[-1]
        lines.append(f"原定：{_local(datetime.fromisoformat(last['from']))}；改期原因：{scrub_text(last['reason'])}")
    if base == "cancelled":
        lines.append(f"取消原因：{scrub_text(str(s.minutes.get('reason', '')))}")
    if titles:
        lines.append("议题：")
        lines += [f"{i}. {scrub_text(t)[:120]}" for i, t in enumerate(titles[:20], 1)]
    return subject[:200], "\n".join(lines)[:4000]


async def agenda_titles(db_session, session_id: str) -> list[str]:
    """The titles of a session's agenda matters, in order."""
    q = (
        select(QueuedMatter.title)
        .join(AgendaItem, AgendaItem.matter_id == QueuedMatter.matter_id)
        .where(AgendaItem.session_id == session_id)
        .order_by(AgendaItem.position)
    )
    return list((await db_session.exec(q)).all())


async def enqueue_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Queue the 24 h and 1 h reminders of sessions that start soon (idempotent per start time)."""
    now = utc(now)
    q = select(MeetingSession).where(
        MeetingSession.status == "scheduled",
        MeetingSession.starts_at > now,
        MeetingSession.starts_at <= now + timedelta(hours=24),
    )
    queued = 0
    directory = load_directory()
    for s in (await uow.session.exec(q)).all():
        community = directory.community(s.community)
        if community is None or not await agenda_titles(uow.session, s.id):
            continue
        left = aware(s.starts_at) - now
        if left <= timedelta(hours=1):
            kind = "reminder_1h"
        elif aware(s.created_at) < aware(s.starts_at) - timedelta(hours=24) or s.sequence:
            kind = "reminder_24h"  # an invitation sent moments ago needs no 24 h reminder
        else:
            continue
        queued += await enqueue(uow, s, f"{kind}.{s.sequence}", community, now=now)
    return queued


async def _claim(db: Database, now: datetime) -> list[Notice]:
    """Lease a batch of due notices (other replicas skip them until the lease ends)."""
    async with db.session() as session:
        q = (
            select(Notice)
            .where(Notice.status == "pending", Notice.due_at <= utc(now))
            .order_by(Notice.due_at, Notice.id)
            .limit(BATCH)
        )
        if db.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = list((await session.exec(q)).all())
        for n in rows:
            n.due_at = utc(now + LEASE)
            session.add(n)
        await session.commit()
        return rows


async def deliver_due(
    db: Database, now: datetime, *, notifier_of: Callable[[Community], Notifier] | None = None
) -> dict[str, int]:
    """Send the notices that are due; return counts by outcome (sent, retry, failed, skipped)."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    directory = load_directory()
    for n in await _claim(db, now):
        community = directory.community(n.community)
        async with db.session() as session:
            s = await session.get(MeetingSession, n.session_id)
            titles = await agenda_titles(session, n.session_id) if s else []
        values: dict = {}
        base = n.kind.split(".", 1)[0]
        stale = s is None or community is None or (base != "cancelled" and s.status != "scheduled")
        if stale:
            values = {"status": "skipped"}
        else:
            subject, body = render(n.kind, s, titles, community)
            notifier = (notifier_of or (lambda c: notifier_for(c.notices)))(community)
            try:
                await notifier.send(recipient(community, n.recipient), subject, body, community=n.community)
                values = {"status": "sent", "sent_at": utc(now), "subject": subject, "body": body}
            except NotifyError as exc:
                attempts = n.attempts + 1
                values = {"attempts": attempts, "last_error": str(exc)[:500], "subject": subject, "body": body}
                if attempts >= MAX_ATTEMPTS or isinstance(exc, Undeliverable):
                    values["status"] = "failed"
                else:
                    values["due_at"] = utc(now + min(timedelta(seconds=30 * 2**attempts), timedelta(hours=1)))
                log.warning("notice.failed session=%s kind=%s attempt=%s: %s", n.session_id, n.kind, attempts, exc)
        async with db.session() as session:
            await session.exec(update(Notice).where(Notice.id == n.id).values(**values))
            await session.commit()
        key = values.get("status") or "retry"
        counts[key] = counts.get(key, 0) + 1
    return counts


async def run(uow_factory, db: Database, now: datetime | None = None) -> dict[str, int]:
    """The periodic notice job: queue due reminders, then deliver what is due."""
    now = now or datetime.now(UTC)
    async with uow_factory() as uow:
        await enqueue_reminders(uow, now)
        await uow.commit()
    return await deliver_due(db, now)
