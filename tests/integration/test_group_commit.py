"""Group commit (runtime.batch) on real SQLite and PostgreSQL: fewer commits, same outcome for every caller."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import event, insert

from services.contracts import Envelope
from services.runtime.batch import GroupCommit
from tests.integration.bus_kit import COMMUNITY, EVENT, closed, probe_store

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    """The probe's database, on SQLite and on PostgreSQL."""
    async with probe_store(request.param, tmp_path) as s:
        yield s


def count_commits(store) -> list[int]:
    """A one-element list counting COMMITs on the store's engine."""
    n = [0]

    @event.listens_for(store.db.engine.sync_engine, "commit")
    def _on_commit(_conn):
        n[0] += 1

    return n


def effect(store, tag: str, *, fail: bool = False):
    """Work that writes one effect row and one event, and fails after writing when asked."""

    async def work(uow):
        await uow.session.exec(insert(store.effects).values(id=uuid.uuid4().hex, event_id=tag))
        await uow.emit(EVENT, community=COMMUNITY, subject=tag, data=closed(tag))
        if fail:
            raise ValueError(f"bad {tag}")
        return tag

    return work


async def test_concurrent_work_shares_commits_and_every_caller_gets_its_result(store):
    woken = []
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: woken.append(1), max_batch=64)
    commits = count_commits(store)
    try:
        results = await asyncio.gather(*(group.run(effect(store, f"m{i}")) for i in range(50)))
    finally:
        await group.close()
    assert results == [f"m{i}" for i in range(50)]
    assert await store.count(store.effects) == 50
    assert len(await store.outbox()) == 50
    assert commits[0] <= 3, f"50 concurrent units of work took {commits[0]} commits"
    assert woken, "the relay was not woken after committing events"


async def test_a_groups_events_are_written_in_one_statement_in_emit_order(store):
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None, max_batch=64)
    outbox_writes: list[int] = []

    @event.listens_for(store.db.engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, params, _context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            outbox_writes.append(len(params) if executemany else 1)

    def two_events(i: int):
        async def work(uow):
            for k in ("a", "b"):
                await uow.emit(EVENT, community=COMMUNITY, subject=f"m{i}{k}", data=closed(f"m{i}{k}"))

        return work

    try:
        await asyncio.gather(*(group.run(two_events(i)) for i in range(30)))
    finally:
        await group.close()
    assert sum(outbox_writes) == 60
    assert len(outbox_writes) <= 3, f"60 events took {len(outbox_writes)} outbox statements"
    subjects = [Envelope.from_bytes(r.body).subject for r in await store.outbox()]
    assert subjects == [f"m{i}{k}" for i in range(30) for k in "ab"]


async def test_an_event_emitted_in_a_rolled_back_savepoint_is_not_published(store):
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None)

    async def work(uow):
        await uow.emit(EVENT, community=COMMUNITY, subject="kept-before", data=closed("kept-before"))
        try:
            async with uow.savepoint():
                await uow.emit(EVENT, community=COMMUNITY, subject="undone", data=closed("undone"))
                raise LookupError("roll the savepoint back")
        except LookupError:
            pass
        async with uow.session.begin_nested():  # a plain savepoint with nothing unwritten is fine too
            await uow.emit(EVENT, community=COMMUNITY, subject="in-savepoint", data=closed("in-savepoint"))
        await uow.emit(EVENT, community=COMMUNITY, subject="kept-after", data=closed("kept-after"))

    async def careless(uow):
        await uow.emit(EVENT, community=COMMUNITY, subject="lost?", data=closed("lost?"))
        async with uow.session.begin_nested():
            await uow.emit(EVENT, community=COMMUNITY, subject="inside", data=closed("inside"))

    try:
        await group.run(work)
        with pytest.raises(RuntimeError, match=r"uow\.savepoint"):
            await group.run(careless)  # refused loudly rather than losing "lost?" with a rolled-back savepoint
    finally:
        await group.close()
    subjects = [Envelope.from_bytes(r.body).subject for r in await store.outbox()]
    assert subjects == ["kept-before", "in-savepoint", "kept-after"]


def counted(work, runs: list[str], tag: str):
    """Work that records each time it runs."""

    async def w(uow):
        runs.append(tag)
        return await work(uow)

    return w


async def test_one_failing_unit_fails_alone_and_stores_nothing(store):
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None, max_batch=64)
    runs: list[str] = []
    try:
        calls = [group.run(counted(effect(store, f"m{i}", fail=(i == 7)), runs, f"m{i}")) for i in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[7], ValueError) and str(results[7]) == "bad m7"
        assert [r for i, r in enumerate(results) if i != 7] == [f"m{i}" for i in range(20) if i != 7]
        # Its own code raised: that is its outcome, so it ran once (a handler runs once per delivery).
        assert runs.count("m7") == 1
        assert await store.effects_of("m7") == 0
        assert await store.count(store.effects) == 19
        assert sorted(r.routing_key for r in await store.outbox()) == [EVENT] * 19
        # and it keeps serving
        assert await group.run(effect(store, "after")) == "after"
        assert await store.effects_of("after") == 1
    finally:
        await group.close()


async def test_a_database_error_in_a_group_runs_each_unit_alone(store):
    # A database error may come from another unit's pending writes (autoflush) or the connection, so the
    # group cannot tell whose it is: every unit runs again alone, and only the one at fault fails.
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None, max_batch=64)
    runs: list[str] = []

    async def duplicate(uow):
        runs.append("dup")
        await uow.session.exec(insert(store.effects).values(id="taken", event_id="dup"))

    try:
        await group.run(effect(store, "first"))
        async with store.db.session() as s:
            await s.exec(insert(store.effects).values(id="taken", event_id="taken"))
            await s.commit()
        calls = [group.run(effect(store, f"m{i}")) if i != 3 else group.run(duplicate) for i in range(8)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert type(results[3]).__name__ == "IntegrityError"
        assert [r for i, r in enumerate(results) if i != 3] == [f"m{i}" for i in range(8) if i != 3]
        assert runs.count("dup") == 2  # in the group, then alone
        assert await store.effects_of("dup") == 0
    finally:
        await group.close()


async def test_work_may_not_commit_the_shared_transaction(store):
    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None)

    async def committing(uow):
        await uow.session.exec(insert(store.effects).values(id="x", event_id="sneaky"))
        await uow.commit()

    try:
        with pytest.raises(RuntimeError, match="committed by its group"):
            await group.run(committing)
    finally:
        await group.close()
    assert await store.effects_of("sneaky") == 0


async def test_each_unit_keeps_its_own_cause_and_actor(store):
    from tests.integration.bus_kit import envelope

    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None)
    causes = [envelope(f"c{i}") for i in range(10)]

    def work(i):
        async def w(uow):
            env = await uow.emit(EVENT, community=COMMUNITY, subject=f"s{i}", data=closed(f"s{i}"))
            return env, uow.actor

        return w

    try:
        out = await asyncio.gather(*(group.run(work(i), cause=causes[i], actor=f"a{i}") for i in range(10)))
    finally:
        await group.close()
    for i, (env, actor) in enumerate(out):
        assert env.causationid == causes[i].id and env.correlationid == causes[i].correlationid
        assert actor == f"a{i}"


async def test_sqlite_lock_held_elsewhere_is_waited_out_without_stalling_the_loop(tmp_path):
    # The inline SQLite driver blocks the loop for at most its short busy timeout per try; the group
    # retries "database is locked" asynchronously, so other coroutines keep running meanwhile.
    import sqlite3
    import threading
    import time

    async with probe_store("sqlite", tmp_path) as store:
        path = store.db.engine.url.database
        locked, release = threading.Event(), threading.Event()

        def hold_the_write_lock() -> None:
            other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(10)
            other.execute("COMMIT")
            other.close()

        holder = threading.Thread(target=hold_the_write_lock)
        holder.start()
        assert locked.wait(5)
        gaps, stop = [], asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None)
        tick = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(2.0, release.set)
        try:
            assert await group.run(effect(store, "waited")) == "waited"
        finally:
            stop.set()
            await tick
            await group.close()
            release.set()
            holder.join()
        assert await store.effects_of("waited") == 1
        assert len(gaps) > 20 and max(gaps) < 1.0, f"the loop stalled for {max(gaps):.2f}s"


async def test_a_group_claims_its_deliveries_in_the_inbox_once(store):
    # One statement claims the inbox rows of a group's deliveries: a delivery claimed before, or a second copy
    # of one event in the same group, is a duplicate; another consumer's inbox is its own.
    from tests.integration.bus_kit import envelope

    group = GroupCommit(store.db, store.tables, service="probe", on_commit=lambda: None)
    seen, twice, fresh = envelope("seen"), envelope("twice"), [envelope(f"f{i}") for i in range(3)]

    async def work(uow):
        return uow.first_delivery

    try:
        assert await group.run(work, cause=seen, inbox="probe.q") is True
        calls = [group.run(work, cause=e, inbox="probe.q") for e in (seen, twice, *fresh, twice)]
        assert await asyncio.gather(*calls) == [False, True, True, True, True, False]
        assert await group.run(work, cause=seen, inbox="other.q") is True
        assert await group.run(work, cause=seen) is True  # no inbox: nothing claimed
    finally:
        await group.close()
