"""Triage clustering on PostgreSQL: concurrent reports of one new cluster make exactly one matter."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from services.triage import handlers
from services.triage.app import spec
from services.triage.models import Matter, MatterReport
from tests.support import pg_store
from tests.unit.test_triage_service import report

pytestmark = pytest.mark.integration


@pytest.fixture
async def store():
    async with pg_store(spec(), "triage_cluster") as s:
        yield s


async def test_two_replicas_same_new_cluster_make_one_matter(store):
    """Each round: two handler calls at once (as two replicas would) on a cluster nobody has seen yet."""
    rounds = 6
    for i in range(rounds):
        building = str(10 + i)
        first = report(f"{building}号楼下水道堵了，污水冒出来", building=building, reporter="ref-a")
        second = report(f"{building}号楼下水道又堵了，臭得很", building=building, reporter="ref-b")
        await asyncio.gather(
            store.handle(handlers.on_report_received, *first), store.handle(handlers.on_report_received, *second)
        )
    async with store.db.session() as s:
        matters = (await s.exec(select(Matter))).all()
        reports = (await s.exec(select(MatterReport))).all()
    assert len(reports) == 2 * rounds
    assert len(matters) == rounds, "a race created a second matter for one cluster"
    assert all(m.reporters == 2 for m in matters)
    assert len({m.cluster_key for m in matters}) == rounds


async def test_different_clusters_do_not_block_each_other(store):
    texts = [(f"{b}号楼路灯坏了", str(b)) for b in range(1, 6)]
    await asyncio.gather(
        *(store.handle(handlers.on_report_received, *report(t, building=b, reporter=f"r{b}")) for t, b in texts)
    )
    async with store.db.session() as s:
        assert len((await s.exec(select(Matter))).all()) == 5
