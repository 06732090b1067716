"""Group commit: units of work submitted at the same moment share one transaction and one commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.contracts import Envelope
from services.runtime import metrics
from services.runtime.db import Database
from services.runtime.relay import Relay
from services.runtime.tables import BusTables
from services.runtime.uow import UnitOfWork, write_outbox

log = logging.getLogger(__name__)

Work = Callable[[UnitOfWork], Awaitable[Any]]


@dataclass
class _Item:
    work: Work
    cause: Envelope | None
    traceparent: str | None
    actor: str | None
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    """Runs submitted work in shared transactions; on any failure, runs that batch's items one by one.

    Why: with SQLite every transaction holds the database's one write lock and every commit syncs the WAL;
    with PostgreSQL every commit is a round trip and a WAL flush. Under load many deliveries and requests
    are waiting at once, so committing them together removes most commits without delaying the first one
    (a batch is whatever queued up while the previous batch ran; an idle service commits each at once).
    Each item keeps its own UnitOfWork (cause, actor) on the shared session, and its caller is answered
    only after the commit that holds its writes. If the batch fails, nothing of it is stored, and each item
    is retried alone, so one bad item cannot fail or delay the others' outcome beyond that retry.
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
        self, work: Work, *, cause: Envelope | None = None, traceparent: str | None = None, actor: str | None = None
    ) -> Any:
        """Run `work` in a transaction shared with concurrent callers; return its result once committed."""
        self._ensure_workers()
        item = _Item(work, cause, traceparent, actor)
        self._queue.put_nowait(item)
        return await item.done

    def _ensure_workers(self) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]
        while len(self._tasks) < self.workers:
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.service}-group-commit"))

    async def close(self) -> None:
        """Stop the workers (callers still waiting get CancelledError)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

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
        )

    async def _commit(self, session, outbox: list[dict], emitted: int) -> None:
        """Write the group's events in one statement, commit, then publish them (or wake the relay)."""
        lease = self.relay.lease() if self.relay and outbox else None
        await write_outbox(session, self.tables, outbox, lease)
        await session.commit()
        if lease:
            self.relay.adopt(outbox)  # published at once: no claim statement, no wait for the relay's loop
        if emitted > (len(outbox) if lease else 0):
            self.on_commit()  # events the relay's loop must claim (all of them, or those a savepoint wrote)

    async def _together(self, items: list[_Item]) -> None:
        try:
            async with self.db.session() as session:
                results, outbox, emitted = [], [], 0
                for item in items:
                    uow = self._uow(session, item)
                    results.append(await item.work(uow))
                    outbox.extend(uow.take_outbox())
                    emitted += len(uow.emitted)
                await self._commit(session, outbox, emitted)
        except Exception as exc:
            log.info("group_commit.split service=%s size=%d error=%s", self.service, len(items), type(exc).__name__)
            for item in items:
                await self._alone(item)
            return
        metrics.GROUP_COMMIT_SIZE.labels(self.service).observe(len(items))
        for item, result in zip(items, results, strict=True):
            if not item.done.done():
                item.done.set_result(result)

    async def _alone(self, item: _Item) -> None:
        try:
            async with self.db.session() as session:
                uow = self._uow(session, item)
                result = await item.work(uow)
                await self._commit(session, uow.take_outbox(), len(uow.emitted))
        except Exception as exc:
            if not item.done.done():
                item.done.set_exception(exc)
            return
        metrics.GROUP_COMMIT_SIZE.labels(self.service).observe(1)
        if not item.done.done():
            item.done.set_result(result)
