"""The outbox relay: claims committed events, publishes them with confirms, marks them sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections import namedtuple

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import AMQPError, DeliveryError, PublishError
from sqlalchemy import and_, bindparam, delete, func, select, update

from services.contracts import CONTENT_TYPE
from services.runtime import metrics
from services.runtime.db import Database
from services.runtime.tables import BusTables

log = logging.getLogger(__name__)

# What publishing needs of an outbox row, for rows handed over in memory (adopt) rather than claimed.
_Row = namedtuple("_Row", "event_id exchange routing_key body headers attempts")
# How long a published adopted row may wait to be marked sent when no commit comes to mark it (see take_sent).
MARK_DELAY_S = 0.05
PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)


class Relay:
    """Publishes outbox rows; several relays (replicas) can run against one database safely."""

    def __init__(
        self,
        db: Database,
        tables: BusTables,
        connection_factory,
        *,
        service: str,
        batch: int = 500,
        poll_ms: int = 1000,
        lease_s: int = 30,
        retention_hours: int = 24,
        instance: str | None = None,
    ):
        self.db, self.t, self.service = db, tables.outbox, service
        self._connection_factory = connection_factory
        self.batch, self.poll_s, self.lease_s = batch, poll_ms / 1000, lease_s
        self.retention = dt.timedelta(hours=retention_hours)
        self.wake = asyncio.Event()
        self.running = False  # set while run() loops: only then may committers hand rows over (adopt)
        self._adopted: set[asyncio.Task] = set()
        self._sent: list[str] = []  # event ids of adopted rows published and confirmed, not yet marked sent
        self._marker: asyncio.TimerHandle | None = None
        # Built once: marks rows sent by event id (expanding IN), in a committer's transaction or the relay's own.
        self.mark_sent = (
            update(self.t)
            .where(self.t.c.event_id.in_(bindparam("ids", expanding=True)))
            .values(sent_at=bindparam("sent_at"), claim=None)
        )
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._underlay: aiormq.abc.AbstractChannel | None = None  # the robust channel's current AMQP channel
        self._app_id = f"/services/{service}"
        self._last_cleanup = 0.0
        self._retry_at: float | None = None  # the earliest backoff of a failed publish: the loop wakes for it
        # Claim tokens start with a digest of the process's stable name (host:service:port), so a restarted
        # process knows which leases its previous run held (the claim column holds 64 characters).
        self.instance = instance
        self._owner = hashlib.sha256(instance.encode()).hexdigest()[:16] + "/" if instance else ""

    def notify(self) -> None:
        """Wake the relay now (called after a commit that wrote to the outbox)."""
        self.wake.set()

    def lease(self) -> dict | None:
        """Claim columns for rows this process will publish itself right after committing them (see adopt).

        Rows written with them are skipped by every relay until the lease ends, so nobody claims them in
        the meantime; if this process dies first, any relay publishes them after the lease.
        """
        if not self.running or self._channel is None or self._channel.is_closed:
            # No channel yet, or the last publish failed (broker away): the loop claims, with its backoff,
            # rather than every commit starting a publish that waits for the broker.
            return None
        return {"claim": f"{self._owner}adopt-{uuid.uuid4().hex}", "available_at": time.time() + self.lease_s}

    def adopt(self, rows: list[dict]) -> None:
        """Publish rows just committed under `lease()` now: no claim statement, no wait for the relay loop."""
        task = asyncio.create_task(self._publish_adopted(rows), name=f"{self.service}-relay-adopted")
        self._adopted.add(task)
        task.add_done_callback(self._adopted.discard)

    async def _publish_adopted(self, rows: list[dict]) -> None:
        try:
            messages = [_Row(**{k: r[k] for k in _Row._fields}) for r in rows]
            await self._deliver(messages, self.t.c.event_id, key=lambda m: m.event_id, later=True)
        except Exception:  # the rows stay claimed until the lease ends, then any relay publishes them
            log.exception("relay.adopted_error count=%d", len(rows))

    def take_sent(self) -> list[str]:
        """Event ids published but not yet marked sent: the caller marks them (`mark_sent`) in its transaction.

        Why: marking each group's rows in a transaction of its own cost one more transaction (with SQLite, one
        more turn of the write lock) per group commit. A group commit marks what was published since the last
        one; with no commit coming, the relay marks them itself after MARK_DELAY_S. Until they are marked they
        stay leased, so nobody publishes them again unless this process dies (at least once, as before).
        """
        ids, self._sent = self._sent, []
        return ids

    def give_back(self, ids: list[str], delay: float = MARK_DELAY_S) -> None:
        """Ids taken with take_sent whose transaction did not commit: mark them later."""
        self._sent.extend(ids)
        self._mark_later(delay)

    def _mark_later(self, delay: float = MARK_DELAY_S) -> None:
        if self._sent and self._marker is None:
            self._marker = asyncio.get_running_loop().call_later(delay, self._start_marking)

    def _start_marking(self) -> None:
        self._marker = None
        task = asyncio.create_task(self._mark_taken(), name=f"{self.service}-relay-mark")
        self._adopted.add(task)
        task.add_done_callback(self._adopted.discard)

    async def _mark_taken(self) -> None:
        ids = self.take_sent()
        if not ids:
            return
        try:
            await self._finish(self.t.c.event_id, ids, [])
        except Exception:  # the database may be away: try again; the rows stay leased meanwhile
            log.exception("relay.mark_error count=%d", len(ids))
            self.give_back(ids, delay=1.0)

    async def settle(self) -> None:
        """Wait for adopted rows still being published, then mark them sent (graceful stop)."""
        if self._adopted:
            await asyncio.gather(*self._adopted, return_exceptions=True)
        if self._marker is not None:
            self._marker.cancel()
            self._marker = None
        await self._mark_taken()

    async def _open(self) -> aiormq.Channel:
        """The confirming channel's AMQP channel (a new one after the robust channel was restored)."""
        if self._channel is None or self._channel.is_closed:
            conn: AbstractRobustConnection = await self._connection_factory()
            # on_return_raises: an unroutable event (no queue bound yet) is reported, not dropped.
            self._channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
            self._underlay = None
        if self._underlay is None or self._underlay.is_closed:
            self._underlay = await self._channel.get_underlay_channel()
        assert isinstance(self._underlay, aiormq.Channel)  # aiormq's concrete channel: `wait` is its own keyword
        return self._underlay

    async def claim(self) -> list:
        """Claim up to `batch` due rows for this relay; another relay skips them until the lease ends."""
        token, now = self._owner + uuid.uuid4().hex, time.time()
        due = and_(self.t.c.sent_at.is_(None), self.t.c.available_at <= now)
        ids = select(self.t.c.id).where(due).order_by(self.t.c.id).limit(self.batch).with_for_update(skip_locked=True)
        async with self.db.session() as s:
            # The outer `due` is re-checked on rows another relay just claimed (Postgres
            # re-evaluates it on the new row version), so two relays never hold one row.
            # RETURNING hands back the claimed rows in the same statement (no second query).
            rows = (
                await s.exec(
                    update(self.t)
                    .where(self.t.c.id.in_(ids.scalar_subquery()), due)
                    .values(available_at=now + self.lease_s, claim=token)
                    .returning(*self.t.c)
                )
            ).all()
            await s.commit()
        return sorted(rows, key=lambda r: r.id)

    async def _publish(self, row) -> str | None:
        """Publish one row and wait for its confirm; return an error text, or None on success."""
        try:
            channel = await self._open()
            # The AMQP channel's own publish, not aio-pika's Message and Exchange: the same frames (the
            # properties aio-pika would send), without building and validating a Message for every event.
            properties = aiormq.spec.Basic.Properties(
                app_id=self._app_id,
                content_type=CONTENT_TYPE,
                delivery_mode=PERSISTENT,
                headers=row.headers or {},
                message_id=row.event_id,
                message_type=row.routing_key,
                priority=0,
            )
            await channel.basic_publish(
                row.body,
                exchange=row.exchange,
                routing_key=row.routing_key,
                properties=properties,
                mandatory=True,
                timeout=10,
                wait=False,  # no separate wait for the socket write: the broker's confirm comes after it anyway
            )
            return None
        except (DeliveryError, PublishError) as exc:
            # Returned (no queue bound) or nacked: keep it, try again later.
            metrics.child(metrics.RELAY_UNROUTABLE, self.service, row.routing_key).inc()
            return f"not delivered: {exc!r}"[:500]
        except (TimeoutError, AMQPError, ConnectionError, OSError, RuntimeError) as exc:
            self._channel = None
            return f"publish failed: {exc!r}"[:500]

    async def _finish(self, column, sent: list, failed: list[tuple[object, int, str]]) -> None:
        """Mark rows (by `column`: id or event_id) sent, or back off the failed ones."""
        async with self.db.session() as s:
            if sent and column is self.t.c.event_id:
                await s.exec(self.mark_sent, params={"ids": sent, "sent_at": dt.datetime.now(dt.UTC)})
            elif sent:
                await s.exec(update(self.t).where(column.in_(sent)).values(sent_at=dt.datetime.now(dt.UTC), claim=None))
            for key, attempts, error in failed:
                backoff = min(60.0, 0.5 * 2 ** min(attempts, 7))
                self._retry_at = min(self._retry_at or float("inf"), time.time() + backoff)
                await s.exec(
                    update(self.t)
                    .where(column == key)
                    .values(available_at=time.time() + backoff, attempts=attempts + 1, last_error=error, claim=None)
                )
            await s.commit()

    async def _deliver(self, rows: list, column, key, *, later: bool = False) -> int:
        """Publish rows concurrently, then record the outcome; return how many were published.

        `later`: rows published are marked sent by the next commit or after MARK_DELAY_S (see take_sent).
        """
        # One row (the common hand-over of a small group) needs no gather: a task fewer per publish.
        results = [await self._publish(rows[0])] if len(rows) == 1 else await asyncio.gather(*map(self._publish, rows))
        sent = [key(r) for r, err in zip(rows, results, strict=True) if err is None]
        failed = [(key(r), r.attempts, err) for r, err in zip(rows, results, strict=True) if err is not None]
        if later:
            self._sent.extend(sent)
            self._mark_later()
            if failed:
                await self._finish(column, [], failed)
        else:
            await self._finish(column, sent, failed)
        metrics.child(metrics.RELAY_PUBLISHED, self.service).inc(len(sent))
        if failed:
            log.warning("relay.publish_failed count=%d first=%s", len(failed), failed[0][2])
            self.wake.set()  # the loop may be waiting out a longer poll: let it wait for this backoff instead
        return len(sent)

    async def run_once(self) -> int:
        """Relay one batch; return how many rows were published."""
        rows = await self.claim()
        if not rows:
            return 0
        return await self._deliver(rows, self.t.c.id, key=lambda r: r.id)

    async def pending(self) -> int:
        """Count events not yet published."""
        async with self.db.session() as s:
            q = select(func.count()).where(self.t.c.sent_at.is_(None))
            n = (await (await s.connection()).execute(q)).scalar_one()
            await s.rollback()
        return int(n)

    async def cleanup(self) -> None:
        """Delete rows sent longer ago than the retention (idempotent, safe on every replica)."""
        cutoff = dt.datetime.now(dt.UTC) - self.retention
        async with self.db.session() as s:
            await s.exec(delete(self.t).where(self.t.c.sent_at.is_not(None), self.t.c.sent_at < cutoff))
            await s.commit()

    async def take_over(self) -> int:
        """Free the leases this instance's previous run held (it died holding them); return how many.

        Another live process cannot have this instance's name: it is bound to the host and the HTTP port.
        Without this, what a killed process had committed but not yet published waited for its lease to end.
        """
        if not self._owner:
            return 0
        async with self.db.session() as s:
            held = and_(self.t.c.sent_at.is_(None), self.t.c.claim.startswith(self._owner, autoescape=True))
            n = (await s.exec(update(self.t).where(held).values(available_at=time.time(), claim=None))).rowcount
            await s.commit()
        if n:
            log.info("relay.took_over instance=%s rows=%d", self.instance, n)
        return n

    async def run(self) -> None:
        """Relay forever: immediately after a notify, otherwise every poll interval."""
        try:
            await self.take_over()
        except Exception:  # the database may be away: the leases then end on their own
            log.exception("relay.take_over_failed instance=%s", self.instance)
        self.running = True
        try:
            await self._loop()
        finally:
            self.running = False

    async def _loop(self) -> None:
        while True:
            # Clear before claiming: a commit landing during the claim sets it again, so no wake is lost.
            self.wake.clear()
            if self._retry_at is not None and self._retry_at <= time.time():
                self._retry_at = None  # this claim takes the rows now due; failing again sets it anew
            try:
                n = await self.run_once()
                if time.monotonic() - self._last_cleanup > 600:
                    self._last_cleanup = time.monotonic()
                    await self.cleanup()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be restarting; never let the relay die
                log.exception("relay.error")
                n = 0
                await asyncio.sleep(1)
            if n >= self.batch:
                continue  # more is waiting
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self._idle_wait())
            except TimeoutError:
                pass

    def _idle_wait(self) -> float:
        """Seconds until the next claim without a wake-up: the poll, or sooner when a failed publish is due."""
        # This process's commits wake the loop (or hand their rows over), so the poll only finds rows of
        # processes that died before publishing, whose leases end after lease_s: it can be slow and cheap.
        if self._retry_at is None:
            return self.poll_s
        return min(self.poll_s, max(0.01, self._retry_at - time.time()))
