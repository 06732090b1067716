"""Two replicas at once on PostgreSQL: red matters of one compound share one emergency session."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlmodel import select

from services.meeting import handlers, planner
from services.meeting.app import spec
from services.meeting.models import AgendaItem, MeetingSession
from services.runtime.db import Database
from services.runtime.migrate import upgrade
from tests.support import ServiceStore, create_pg_database, drop_pg_database
from tests.unit.test_meeting_service import NOW, triaged

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
async def pg_url():
    try:
        url = await create_pg_database("meeting_replicas")
    except Exception as exc:  # pragma: no cover - PostgreSQL is optional for this tier
        pytest.skip(f"PostgreSQL unavailable: {exc!r}")
    yield url
    await drop_pg_database(url)


async def test_two_replicas_two_red_matters_one_emergency_session(pg_url):
    first, second = Database(pg_url), Database(pg_url)
    try:
        await upgrade(first, spec().migrations)
        stores = [ServiceStore(spec(), first), ServiceStore(spec(), second)]
        for round_ in range(5):
            # Each round: two red matters of one compound, handled by two replicas at the same moment.
            compound = ("jintaihezhuang", "yucai", "shuxiangyayuan", "jintaihezhuang", "yucai")[round_]
            a = triaged(f"mat_pg{round_}a", level="red", compound=compound)
            b = triaged(f"mat_pg{round_}b", level="red", compound=compound, category="elevator")
            await asyncio.gather(
                stores[0].handle(handlers.on_matter_triaged, *a), stores[1].handle(handlers.on_matter_triaged, *b)
            )
        async with first.session() as s:
            rows = (await s.exec(select(MeetingSession).where(MeetingSession.kind == "emergency"))).all()
            by_compound = {r.compound: r for r in rows}
            assert len(rows) == len(by_compound) == 3, [(r.compound, r.id) for r in rows]
            items = (await s.exec(select(AgendaItem.session_id, AgendaItem.matter_id))).all()
        agenda = {sid: sorted(m for s2, m in items if s2 == sid) for sid in {r.id for r in rows}}
        assert sorted(agenda[by_compound["yucai"].id]) == ["mat_pg1a", "mat_pg1b", "mat_pg4a", "mat_pg4b"]
        assert len(agenda[by_compound["jintaihezhuang"].id]) == 4
        assert agenda[by_compound["shuxiangyayuan"].id] == ["mat_pg2a", "mat_pg2b"]
    finally:
        await first.dispose()
        await second.dispose()
