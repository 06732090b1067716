"""The audit hash chain on PostgreSQL: concurrent writers, verification, tampering and deletion detected."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text

from services.contracts import Envelope, events
from services.ledger import audit, handlers
from services.ledger.app import spec
from tests.support import pg_store

pytestmark = pytest.mark.integration


def triaged(matter_id: str) -> tuple[Envelope, events.MatterTriaged]:
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
        triaged_at=dt.datetime.now(dt.UTC),
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/test", community="jinshan", subject=matter_id, data=data
    )
    return env, data


@pytest.fixture
async def store():
    async with pg_store(spec(), "ledger_audit") as s:
        yield s


async def test_chain_on_postgres_with_concurrent_writers(store):
    await asyncio.gather(*(store.handle(handlers.on_matter_triaged, *triaged(f"mat_{i}")) for i in range(8)))
    checked, broken = await audit.verify(store.db)
    assert checked == 16 and broken == []  # register + assign for each, one gap-free chain
    async with store.db.session() as s:
        seqs = (await s.exec(text("SELECT seq FROM audit_record WHERE community = 'jinshan' ORDER BY seq"))).all()
        assert [r[0] for r in seqs] == list(range(1, 17))
        await s.exec(
            text("UPDATE audit_record SET after = CAST(:v AS json) WHERE seq = 7").bindparams(v='{"state": "closed"}')
        )
        await s.commit()
        rid = (await s.exec(text("SELECT id FROM audit_record WHERE seq = 7"))).one()[0]
    _, broken = await audit.verify(store.db, "jinshan")
    assert [(b.seq, b.record_id) for b in broken] == [(7, rid)]
    async with store.db.session() as s:
        await s.exec(text("DELETE FROM audit_record WHERE seq >= 7"))
        await s.commit()
    _, broken = await audit.verify(store.db)
    assert broken[0].seq == 7 and "head" in broken[0].reason  # the deleted tail is still noticed
