"""The county's holiday table in a service's own database: meeting's table of record, the others' copies.

Meeting writes a year the county enters (`PUT /v1/workcal/years/{year}`) into its `workcal_year` table and emits
`workcal.year_entered.v1` through its outbox in the same transaction. Every other service that counts workdays
(ledger, feedback) consumes it on its own queue `<service>.workcal` into its own `workcal_year` table: idempotent
(inbox), newest `updated_at` wins, so a late or duplicate event never overwrites a newer year. Every process of a
service reads its table into `holidays` at start and every RECHECK_SECONDS (replicas share the queue, so only one
of them receives the event: the database is what the others see), and at once after its own commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from pydantic import BaseModel
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, select, update

from services.contracts import Envelope
from services.contracts.events import WorkcalYearEntered
from services.runtime import holidays
from services.runtime.consumer import Reject, Subscription, subscribe
from services.runtime.db import Database
from services.runtime.directory import load_directory
from services.runtime.tables import upsert
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

EVENT = "workcal.year_entered.v1"
TABLE = "workcal_year"


def year_table(metadata: MetaData) -> Table:
    """The `workcal_year` table in a service's metadata (one row per year the county entered)."""
    if TABLE in metadata.tables:
        return metadata.tables[TABLE]
    return Table(
        TABLE,
        metadata,
        Column("year", Integer, primary_key=True, autoincrement=False),
        Column("source", String(200), nullable=False),
        Column("holidays", JSON, nullable=False),  # ISO dates, sorted
        Column("workdays", JSON, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),  # UTC; the newest version of a year wins
        # Only in meeting's table of record: who entered it and the change history (never in the event).
        Column("updated_by", String(128), nullable=True),
        Column("changes", JSON, nullable=False),
    )


def _row(year: holidays.Year) -> dict:
    return {
        "year": year.year,
        "source": year.source,
        "holidays": [d.isoformat() for d in sorted(year.holidays)],
        "workdays": [d.isoformat() for d in sorted(year.workdays)],
        "updated_at": holidays.stamp(year.updated_at),
        "updated_by": year.updated_by or None,
        "changes": list(year.changes),
    }


def _year(row) -> holidays.Year:
    return holidays.Year(
        int(row.year),
        str(row.source),
        frozenset(dt.date.fromisoformat(d) for d in row.holidays or ()),
        frozenset(dt.date.fromisoformat(d) for d in row.workdays or ()),
        str(row.updated_by or ""),
        holidays.stamp(row.updated_at).isoformat(),  # type: ignore[union-attr]
        tuple(row.changes or ()),
    )


async def load(session, table: Table) -> dict[int, holidays.Year]:
    """Every year in the table."""
    return {int(r.year): _year(r) for r in (await session.exec(select(table))).all()}


async def current(session, table: Table, year: int) -> holidays.Year | None:
    """One year as stored, locked for this transaction (PostgreSQL; SQLite serialises writers anyway)."""
    row = (await session.exec(select(table).where(table.c.year == year).with_for_update())).first()
    return _year(row) if row is not None else None


async def store(session, table: Table, year: holidays.Year, *, dialect: str) -> bool:
    """Insert or replace a year if it is newer than the stored one (`holidays.supersedes`); tell whether it was."""
    row = _row(year)
    inserted = await session.exec(upsert(table, dialect).values(row).on_conflict_do_nothing(index_elements=["year"]))
    if inserted.rowcount == 1:
        return True
    stored = await current(session, table, year.year)
    if stored is not None and not holidays.supersedes(year.updated_at, stored.updated_at):
        return False
    values = {k: v for k, v in row.items() if k != "year"}
    await session.exec(update(table).where(table.c.year == year.year).values(values))
    return True


async def refresh(db: Database, table: Table) -> dict[int, holidays.Year]:
    """Read the table and hand it to this process's `holidays` (newest wins per year)."""
    async with db.session() as session:
        years = await load(session, table)
    holidays.install(years)
    return years


async def keep_fresh(db: Database, table: Table, interval_s: float = holidays.RECHECK_SECONDS) -> None:
    """Refresh this process's table from its database forever (every process: not a leader's job)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await refresh(db, table)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: keep the table we have and try again later
            log.warning("workcal.refresh_failed error=%s", type(exc).__name__)


def year_of(data: WorkcalYearEntered) -> holidays.Year:
    """The year an event carries (its arrangement validated: raises holidays.HolidayError)."""
    holidays.validate(data.year, data.source, data.holidays, data.workdays)
    return holidays.Year(
        data.year,
        data.source.strip(),
        frozenset(data.holidays),
        frozenset(data.workdays),
        updated_at=holidays.stamp(data.updated_at).isoformat(),  # type: ignore[union-attr]
    )


def handler(table: Table):
    """The consumer of `workcal.year_entered.v1` that keeps this service's copy of the year."""

    async def on_workcal_year_entered(uow: UnitOfWork, env: Envelope, data: BaseModel) -> None:
        assert isinstance(data, WorkcalYearEntered)
        county = load_directory().county.code
        if env.community != county:
            raise Reject(f"the holiday table belongs to the county {county!r}, not {env.community!r}")
        try:
            year = year_of(data)
        except holidays.HolidayError as exc:
            raise Reject(f"workcal {data.year}: {exc.field}: {exc.en}") from exc
        if await store(uow.session, table, year, dialect=uow.dialect):
            uow.after_commit(lambda: holidays.put(year))
            log.info("workcal.year_kept year=%s updated_at=%s", year.year, year.updated_at)
        else:
            log.info("workcal.year_stale year=%s updated_at=%s: a newer version is kept", year.year, year.updated_at)

    return on_workcal_year_entered


def subscription(service: str, table: Table, settings) -> Subscription:
    """The queue `<service>.workcal` feeding a service's copy of the county's holiday table."""
    return subscribe(f"{service}.workcal", {EVENT: handler(table)}, settings)
