"""Group commit: units of work submitted at the same moment share one transaction and one commit."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from services.contracts import Envelope
from services.runtime import metrics
from services.runtime.db import Database
from services.runtime.relay import Relay
from services.runtime.tables import BusTables
from services.runtime.uow import UnitOfWork, run_after, write_outbox

log = logging.getLogger(__name__)

Work = Callable[[UnitOfWork], Awaitable[Any]]


@dataclass
class _Item:
    work: Work
    cause: Envelope | None
    traceparent: str | None
    actor: str | None
    inbox: str | None = None  # the consumer whose delivery of `cause` this is: its inbox row is claimed
    first: bool = True  # set when claimed: False if the inbox already held the delivery (a duplicate)
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _unclear(exc: Exception) -> bool:
    """Tell whether an error raised inside one item's work may come from another's writes or the connection."""
    # Autoflush writes every item's pending objects when any item queries; a lost connection is nobody's fault.
    return isinstance(exc, (SQLAlchemyError, OSError, asyncio.TimeoutError))


class GroupCommit:
    """Runs submitted work in shared transactions; a failing item fails alone, the others are run again.

    Why: with SQLite every transaction holds the database's one write lock and every commit syncs the WAL;
    with PostgreSQL every commit is a round trip and a WAL flush. Under load many deliveries and requests
    are waiting at once, so committing them together removes most commits without delaying the first one
    (a batch is whatever queued up while the previous batch ran; an idle service commits each at once).
    Each item keeps its own UnitOfWork (cause, actor) on the shared session, and its caller is answered
    only after the commit that holds its writes. If the batch fails, nothing of it is stored: an item whose
    own code raised gets that error and the others run again together; an error that may belong to any item
    (a database error, a failed commit) runs each item alone. One bad item cannot fail the others' outcome.
    """

    def __init__(
        self,
        db: Database,
        tables: BusTables,
        *,
        service: str,
        on_commit: Callable[[], None],
        max_batch: int = 64,
        workers: int = 1,
        relay: Relay | None = None,
    ):
        self.db, self.tables, self.service, self.on_commit = db, tables, service, on_commit
        self.relay = relay  # when running, it publishes each group's events right after the commit
        self.max_batch, self.workers = max_batch, workers
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    async def run(
        self,
        work: Work,
        *,
        cause: Envelope | None = None,
        traceparent: str | None = None,
        actor: str | None = None,
        inbox: str | None = None,
    ) -> Any:
        """Run `work` in a transaction shared with concurrent callers; return its result once committed.

        With `inbox` (a consumer's name) the delivery of `cause` is claimed in that consumer's inbox in the
        same transaction, before the work runs: `uow.first_delivery` is False if it was claimed before.
        """
        self._ensure_workers()
        item = _Item(work, cause, traceparent, actor, inbox)
        self._queue.put_nowait(item)
        return await item.done

    def _ensure_workers(self) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]
        while len(self._tasks) < self.workers:
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.service}-group-commit"))

    async def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (callers still waiting get CancelledError), waiting at most `timeout` seconds."""
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        self._tasks = []
        while not self._queue.empty():  # queued, never taken: their callers would otherwise wait forever
            self._queue.get_nowait().done.cancel()

    def _take(self, first: _Item) -> list[_Item]:
        items = [first]
        while len(items) < self.max_batch and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return [i for i in items if not i.done.cancelled()]

    async def _worker(self) -> None:
        while True:
            items = self._take(await self._queue.get())
            if not items:
                continue
            try:
                if len(items) == 1:
                    await self._alone(items[0])
                else:
                    await self._together(items)
            except asyncio.CancelledError:
                for i in items:
                    if not i.done.done():
                        i.done.cancel()
                raise

    def _uow(self, session, item: _Item) -> UnitOfWork:
        return UnitOfWork(
            session,
            self.tables,
            service=self.service,
            on_commit=self.on_commit,
            cause=item.cause,
            traceparent=item.traceparent,
            actor=item.actor,
            grouped=True,
            first_delivery=item.first,
        )

    async def _claim(self, session, items: list[_Item]) -> None:
        """Claim the inbox rows of the items' deliveries in one statement; mark the ones claimed before."""
        # One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING instead of one statement per delivery.
        claiming = [(i, i.inbox, i.cause) for i in items if i.inbox and i.cause]
        if not claiming:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [{"consumer": q, "event_id": e.id, "event_type": e.type, "received_at": now} for _, q, e in claiming]
        stmt = self.tables.inbox_claims(self.db.dialect)
        fresh = {(r.consumer, r.event_id) for r in (await session.exec(stmt, params=rows)).all()}
        for item, consumer, cause in claiming:
            item.first = (consumer, cause.id) in fresh
            fresh.discard((consumer, cause.id))  # the same event delivered twice in one group: only the first runs

    async def _commit(self, session, outbox: list[dict], emitted: int) -> None:
        """Write the group's events in one statement, commit, then publish them (or wake the relay)."""
        lease = self.relay.lease() if self.relay and outbox else None
        # Rows the relay published since the last commit are marked sent here, not in a transaction of their own.
        marks = self.relay.take_sent() if self.relay else []
        try:
            await write_outbox(session, self.tables, outbox, lease)
            if marks and self.relay:
                await session.exec(self.relay.mark_sent, params={"ids": marks, "sent_at": dt.datetime.now(dt.UTC)})
            await session.commit()
        except BaseException:
            if marks and self.relay:
                self.relay.give_back(marks)
            raise
        if lease and self.relay:
            self.relay.adopt(outbox)  # published at once: no claim statement, no wait for the relay's loop
        if emitted > (len(outbox) if lease else 0):
            self.on_commit()  # events the relay's loop must claim (all of them, or those a savepoint wrote)

    async def _together(self, items: list[_Item]) -> None:
        while len(items) > 1:
            failed, exc = await self._try_together(items)
            if exc is None:
                return
            log.info("group_commit.split service=%s size=%d error=%s", self.service, len(items), type(exc).__name__)
            if failed is None:
                break  # the failure may belong to any item (a flush, the commit): each runs alone
            # The item's own code raised, on exactly the state it would see alone after the others commit:
            # that is its outcome, and running it again would run its handler twice for one delivery.
            if not failed.done.done():
                failed.done.set_exception(exc)
            items = [i for i in items if i is not failed]
        for item in items:
            await self._alone(item)

    async def _try_together(self, items: list[_Item]) -> tuple[_Item | None, Exception | None]:
        """Run items in one transaction; on failure, return the item to blame (None if unclear) and the error."""
        current = None
        try:
            async with self.db.session() as session:
                await self._claim(session, items)
                results, outbox, emitted, after = [], [], 0, []
                for current in items:
                    uow = self._uow(session, current)
                    results.append(await current.work(uow))
                    outbox.extend(uow.take_outbox())
                    emitted += len(uow.emitted)
                    after.extend(uow.after)
                current = None
                await self._commit(session, outbox, emitted)
            run_after(after)
        except Exception as exc:
            return (None if current is None or _unclear(exc) else current), exc
        metrics.child(metrics.GROUP_COMMIT_SIZE, self.service).observe(len(items))
        for item, result in zip(items, results, strict=True):
            if not item.done.done():
                item.done.set_result(result)
        return None, None

    async def _alone(self, item: _Item) -> None:
        try:
            async with self.db.session() as session:
                await self._claim(session, [item])
                uow = self._uow(session, item)
                result = await item.work(uow)
                await self._commit(session, uow.take_outbox(), len(uow.emitted))
            run_after(uow.after)
        except Exception as exc:
            if not item.done.done():
                item.done.set_exception(exc)
            return
        metrics.child(metrics.GROUP_COMMIT_SIZE, self.service).observe(1)
        if not item.done.done():
            item.done.set_result(result)
