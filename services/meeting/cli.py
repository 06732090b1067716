"""Meeting commands: `workcal-announce` (announce every year of the county's holiday table again)."""

from __future__ import annotations

import argparse
import asyncio

from services.meeting import holiday_table
from services.meeting.models import bus_tables
from services.runtime.db import Database
from services.runtime.migrate import upgrade
from services.runtime.settings import get_settings
from services.runtime.uow import UnitOfWork


async def announce(db: Database) -> list[int]:
    """Put one `workcal.year_entered.v1` per stored year in meeting's outbox (its running relay publishes them)."""
    from services.meeting.app import spec

    await upgrade(db, spec().migrations)
    async with db.session() as session:
        uow = UnitOfWork(session, bus_tables, service="meeting", on_commit=lambda: None, actor="workcal-announce")
        years = await holiday_table.announce_all(uow)
        await uow.commit()
    return years


def workcal_announce(argv: list[str]) -> None:
    """CLI: announce the county's holiday table again, for a service whose copy missed a year."""
    argparse.ArgumentParser(prog="python -m services.meeting workcal-announce", description=__doc__).parse_args(argv)

    async def run() -> list[int]:
        db = Database(get_settings().database_url("meeting"))
        try:
            return await announce(db)
        finally:
            await db.dispose()

    years = asyncio.run(run())
    print(f"announced {len(years)} year(s): {', '.join(map(str, years)) or '-'} (the running meeting relay sends them)")


COMMANDS = {"workcal-announce": workcal_announce}
