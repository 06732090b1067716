"""The audit hash chain: written with every change, verified, and broken by tampering or deletion."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import sys
from asyncio.subprocess import PIPE, STDOUT

import pytest
from sqlalchemy import text
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import audit, handlers, service
from services.ledger.app import spec
from services.ledger.models import AuditRecord, TimelineItem
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


def triaged(matter_id: str, community: str = "jinshan") -> tuple[Envelope, events.MatterTriaged]:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="景湖花园3号楼路灯不亮",
        place=events.Place(compound="jinghuhuayuan", building="3"),
        kind="problem",
        category="lighting",
        level="yellow",
        route="direct",
        confidence=0.9,
        triaged_at=NOW,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/test", community=community, subject=matter_id, data=data
    )
    return env, data


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    for i in range(3):
        env, data = triaged(f"mat_{i}")
        await s.handle(handlers.on_matter_triaged, env, data)
    env, data = triaged("mat_x", community="xueyuan")
    await s.handle(handlers.on_matter_triaged, env, data)
    yield s
    await s.db.dispose()


async def records(store, community: str = "jinshan") -> list[AuditRecord]:
    async with store.db.session() as s:
        q = select(AuditRecord).where(AuditRecord.community == community).order_by(AuditRecord.seq)
        return list((await s.exec(q)).all())


async def test_every_timeline_item_has_a_chained_audit_record(store):
    rows = await records(store)
    async with store.db.session() as s:
        items = (await s.exec(select(TimelineItem))).all()
    # register + assign per matter: 3 matters in jinshan, 1 in xueyuan, each with its own chain from seq 1.
    assert len(items) == 8 and [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in await records(store, "xueyuan")] == [1, 2]
    assert rows[0].prev_hash == audit.GENESIS and all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert [r.action for r in rows[:2]] == ["register", "assign"]
    assert rows[0].before is None and rows[0].after["state"] == "registered"
    assert rows[1].before["state"] == "registered" and rows[1].after["state"] == "assigned"
    assert rows[1].actor == service.SYSTEM and rows[1].entry_id == service.entry_id_for("mat_0")
    checked, broken = await audit.verify(store.db)
    assert checked == 8 and broken == []


async def test_a_rolled_back_change_leaves_no_audit_record(store):
    env, data = triaged("mat_rollback")
    async with store.uow(cause=env) as uow:
        await handlers.on_matter_triaged(uow, env, data)
        await uow.session.rollback()
    assert len(await records(store)) == 6
    env, data = triaged("mat_after")
    await store.handle(handlers.on_matter_triaged, env, data)
    assert [r.seq for r in await records(store)] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert (await audit.verify(store.db))[1] == []


async def test_many_changes_of_two_communities_in_one_commit_chain_like_one_by_one(store):
    # A group commit writes many matters' records at once: per community in order, seq contiguous, chain intact.
    async with store.uow() as uow:
        for i, community in enumerate(["jinshan", "xueyuan", "jinshan", "xueyuan", "jinshan"]):
            env, data = triaged(f"mat_g{i}", community=community)
            uow.cause = env
            await handlers.on_matter_triaged(uow, env, data)
        await uow.commit()
    jinshan, xueyuan = await records(store), await records(store, "xueyuan")
    assert [r.seq for r in jinshan] == list(range(1, 13)) and [r.seq for r in xueyuan] == list(range(1, 7))
    assert [r.entry_id for r in jinshan[6:]] == [service.entry_id_for(f"mat_g{i}") for i in (0, 0, 2, 2, 4, 4)]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(jinshan))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(xueyuan))
    checked, broken = await audit.verify(store.db)
    assert checked == 18 and broken == []


async def test_tampered_row_is_named(store):
    rows = await records(store)
    async with store.db.session() as s:
        await s.exec(text("UPDATE audit_record SET actor = 'someone_else' WHERE id = :id").bindparams(id=rows[2].id))
        await s.commit()
    _, broken = await audit.verify(store.db)
    assert len(broken) == 1
    assert (broken[0].community, broken[0].seq, broken[0].record_id) == ("jinshan", 3, rows[2].id)
    assert "altered" in broken[0].reason
    assert (await audit.verify(store.db, "xueyuan"))[1] == []


async def test_tampered_json_snapshot_is_detected(store):
    rows = await records(store)
    after = {**rows[3].after, "state": "closed"}
    async with store.db.session() as s:
        row = await s.get(AuditRecord, rows[3].id)
        row.after = after
        s.add(row)
        await s.commit()
    assert [(b.seq, b.record_id) for b in (await audit.verify(store.db))[1]] == [(4, rows[3].id)]


@pytest.mark.parametrize("victim", [1, 4, 6])
async def test_deleted_row_is_detected(store, victim: int):
    async with store.db.session() as s:
        stmt = text("DELETE FROM audit_record WHERE community = 'jinshan' AND seq = :seq").bindparams(seq=victim)
        await s.exec(stmt)
        await s.commit()
    _, broken = await audit.verify(store.db)
    assert [(b.community, b.seq) for b in broken] == [("jinshan", victim)]
    assert "missing" in broken[0].reason or "head" in broken[0].reason


async def command(store, tmp_path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "HALL_VAR_DIR": str(tmp_path), "LEDGER_DATABASE_URL": str(store.db.engine.url)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ledger", "verify-audit", *args, env=env, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_verify_audit_command_exits_1_naming_the_record(store, tmp_path):
    code, out = await command(store, tmp_path)
    assert code == 0 and "intact: 8 records" in out, out
    rows = await records(store)
    async with store.db.session() as s:
        await s.exec(text("UPDATE audit_record SET action = 'x' WHERE id = :id").bindparams(id=rows[4].id))
        await s.commit()
    code, out = await command(store, tmp_path, "--community", "jinshan")
    assert code == 1 and f"community=jinshan seq=5 id={rows[4].id}" in out, out
    code, out = await command(store, tmp_path, "--community", "xueyuan")
    assert code == 0 and "intact: 2 records" in out, out
