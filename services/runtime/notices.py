"""Notices waiting for a person (pages, reminders): a table per service, queued in the business transaction.

A notice is rendered when queued, keyed for deduplication (the same key is queued at most once), and
delivered afterwards by a periodic job through the community's notifier (services/runtime/notify.py). A
failing channel keeps the row pending with a backoff; it never undoes the transaction that queued it.

    queue = NoticeQueue(metadata)                      # beside BusTables, in the service's models
    await queue.enqueue(uow, [Notice(key=..., community=..., to=Recipient(...), subject=..., body=...)])
    await queue.deliver_due(db, now)                   # from a Periodic, woken after commit
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.runtime.directory import Community, Notices, load_directory
from services.runtime.notify import Notifier, NotifyError, Recipient, Undeliverable, notifier_for

log = logging.getLogger(__name__)

BATCH = 50
LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 8
STALE = dt.timedelta(hours=24)  # a notice not sent within a day is news nobody needs (e.g. after a rebuild)
# Quiet hours (Asia/Shanghai) for notices that can wait: they are held until the morning. Red never waits.
QUIET_FROM, QUIET_UNTIL = dt.time(22, 0), dt.time(8, 0)


@dataclass(frozen=True)
class Notice:
    """One notice to one person, rendered; `key` makes queuing it again a no-op."""

    key: str
    community: str
    to: Recipient
    subject: str
    body: str
    kind: str = "notice"
    ref: str | None = None  # what it is about (an entry id, a revisit id), for listing
    due_at: dt.datetime | None = None  # None: now
    extra: dict = field(default_factory=dict)
    via: Notices | None = None  # its own channel (e.g. an owners' WeChat group's bot), else the community's


def quiet_until(at: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The end of the quiet hours `at` falls in (local 22:00-08:00), or None outside them."""
    local = at.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, QUIET_UNTIL, tzinfo=tz)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class NoticeQueue:
    """The `notice` table of one service's metadata, with queue and delivery operations."""

    def __init__(self, metadata: MetaData):
        if "notice" in metadata.tables:
            self.table = metadata.tables["notice"]
        else:
            self.table = Table(
                "notice",
                metadata,
                Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
                Column("key", String(200), nullable=False, unique=True),
                Column("community", String(64), nullable=False, index=True),
                Column("kind", String(32), nullable=False),
                Column("ref", String(64), nullable=True, index=True),
                Column("recipient", JSON, nullable=False),  # name, key and addresses (staff contacts, not residents)
                Column("channel", String(16), nullable=False),
                Column("subject", String(200), nullable=False),
                Column("body", String(4000), nullable=False),
                Column("status", String(16), nullable=False),  # pending, sent, failed
                Column("attempts", Integer, nullable=False, default=0),
                Column("due_at", DateTime(timezone=True), nullable=False),
                Column("created_at", DateTime(timezone=True), nullable=False),
                Column("sent_at", DateTime(timezone=True), nullable=True),
                Column("last_error", String(500), nullable=True),
            )
            Index("ix_notice_pending", self.table.c.status, self.table.c.due_at)
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def wake_event(self) -> asyncio.Event:
        """The event that wakes this process's delivery job (one per event loop: tests run several)."""
        loop = asyncio.get_running_loop()
        if self._wake is None or self._wake[0] is not loop:
            self._wake = (loop, asyncio.Event())
        return self._wake[1]

    def wake(self) -> None:
        """Wake the delivery job of this process, if it runs in this event loop."""
        if self._wake is not None and self._wake[0] is asyncio.get_running_loop():
            self._wake[1].set()

    async def enqueue(self, uow, notices: list[Notice], *, now: dt.datetime) -> int:
        """Queue notices in the unit of work's transaction (already-queued keys are left alone); wake delivery."""
        if not notices:
            return 0
        directory = load_directory()
        rows = []
        for n in notices:
            community = directory.community(n.community)
            channel = notifier_for(n.via or (community.notices if community else None)).channel
            to = n.to
            rows.append(
                {
                    "key": n.key[:200],
                    "community": n.community,
                    "kind": n.kind[:32],
                    "ref": n.ref,
                    "recipient": {
                        "name": to.name,
                        "key": to.key,
                        "email": to.email,
                        "phone": to.phone,
                        "wecom_id": to.wecom_id,
                        **({"via": n.via.model_dump()} if n.via is not None else {}),
                    },
                    "channel": channel,
                    "subject": n.subject[:200],
                    "body": n.body[:4000],
                    "status": "pending",
                    "attempts": 0,
                    "due_at": _utc(n.due_at or now),
                    "created_at": _utc(now),
                }
            )
        ins = pg_insert if uow.dialect == "postgresql" else sqlite_insert
        await uow.session.exec(ins(self.table).values(rows).on_conflict_do_nothing(index_elements=["key"]))
        uow.after_commit(self.wake)
        return len(rows)

    async def _claim(self, db, now: dt.datetime) -> list[dict]:
        """Lease a batch of due notices in one statement (other replicas skip them until the lease ends)."""
        t = self.table
        due = (t.c.status == "pending") & (t.c.due_at <= _utc(now))
        ids = select(t.c.id).where(due).order_by(t.c.due_at, t.c.id).limit(BATCH)
        if db.dialect == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        claim = update(t).where(t.c.id.in_(ids.scalar_subquery()), due).values(due_at=_utc(now + LEASE))
        async with db.session() as session:
            rows = await _rows(session, claim.returning(*t.c))
            if rows:
                await session.commit()
            return sorted(rows, key=lambda r: r["id"])

    async def deliver_due(
        self, db, now: dt.datetime | None = None, *, notifier_of: Callable[[Community], Notifier] | None = None
    ) -> dict[str, int]:
        """Send the notices that are due; return counts by outcome (sent, retry, failed)."""
        now = now or dt.datetime.now(dt.UTC)
        counts = {"sent": 0, "retry": 0, "failed": 0}
        directory = load_directory()
        pick = notifier_of or (lambda c: notifier_for(c.notices))
        for n in await self._claim(db, now):
            if _utc(n["created_at"]) < now - STALE:
                await self._set(db, n["id"], {"status": "failed", "last_error": "stale: not sent within a day"})
                counts["failed"] += 1
                continue
            community = directory.community(n["community"])
            r = n["recipient"]
            if r.get("via"):
                notifier = notifier_for(Notices.model_validate(r["via"]))
            else:
                notifier = pick(community) if community else notifier_for(None)
            to = Recipient(
                name=r.get("name") or "",
                key=r.get("key") or "",
                email=r.get("email"),
                phone=r.get("phone"),
                wecom_id=r.get("wecom_id"),
            )
            try:
                await notifier.send(to, n["subject"], n["body"], community=n["community"])
                values: dict = {"status": "sent", "sent_at": _utc(dt.datetime.now(dt.UTC)), "channel": notifier.channel}
            except NotifyError as exc:
                attempts = n["attempts"] + 1
                values = {"attempts": attempts, "last_error": str(exc)[:500]}
                if attempts >= MAX_ATTEMPTS or isinstance(exc, Undeliverable):
                    values["status"] = "failed"
                else:
                    values["due_at"] = _utc(now + min(dt.timedelta(seconds=15 * 2**attempts), dt.timedelta(hours=1)))
                log.warning("notice.failed kind=%s ref=%s attempt=%s: %s", n["kind"], n["ref"], attempts, exc)
            await self._set(db, n["id"], values)
            counts[values.get("status") or "retry"] += 1
        return counts

    async def _set(self, db, notice_id: int, values: dict) -> None:
        async with db.session() as session:
            await session.exec(update(self.table).where(self.table.c.id == notice_id).values(**values))
            await session.commit()

    async def of(self, session, ref: str) -> list[dict]:
        """The notices about one thing (e.g. an entry), oldest first."""
        t = self.table
        q = select(t).where(t.c.ref == ref).order_by(t.c.created_at, t.c.id)
        return await _rows(session, q)


async def _rows(session, query) -> list[dict]:
    """Rows of a Core query as dicts (SQLModel's exec would return only the first column)."""
    conn = await session.connection()
    return [dict(r) for r in (await conn.execute(query)).mappings().all()]
