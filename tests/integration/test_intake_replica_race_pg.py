"""On PostgreSQL: two replicas accepting the same channel message at once store one report, emit one event."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from services.intake import service as intake_service
from services.intake.models import Report
from tests.support import intake_pg_store
from tests.unit.test_intake_service import incoming

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(tmp_path, monkeypatch):
    async with intake_pg_store(tmp_path, monkeypatch, "intake_race") as s:
        yield s


async def test_the_second_replica_waits_and_answers_with_the_first_ones_report(store):
    inserted = asyncio.Event()
    async with store.uow() as first:
        mine, created = await intake_service.accept(first, incoming("wx-pg-race"))
        assert created

        async def other_replica():
            async with store.uow() as uow:
                inserted.set()  # its lookup finds nothing: the first replica has not committed
                got = await intake_service.accept(uow, incoming("wx-pg-race", "同一条消息"))
                await uow.commit()
                return got, uow.emitted

        task = asyncio.create_task(other_replica())
        await inserted.wait()
        await asyncio.sleep(0.3)  # the other replica's insert now waits on this one's row
        assert not task.done()
        await first.commit()
    (theirs, created), emitted = await asyncio.wait_for(task, 10)
    assert (theirs.id, created, emitted) == (mine.id, False, [])
    async with store.db.session() as s:
        assert [r.id for r in (await s.exec(select(Report))).all()] == [mine.id]
    assert len(await store.outbox()) == 1
