"""The county's holiday table of record: a year entered in meeting's database and announced to every service."""

from __future__ import annotations

import datetime as dt

from services.contracts.events import WorkcalYearEntered
from services.meeting.models import workcal_years
from services.runtime import holidays, workcal_store
from services.runtime.directory import load_directory
from services.runtime.uow import UnitOfWork


async def enter_year(
    uow: UnitOfWork, year: int, source: str, off: list[dt.date], on: list[dt.date], *, by: str
) -> holidays.Year:
    """Validate and keep a year (raises holidays.HolidayError) and emit `workcal.year_entered.v1`, one transaction.

    Its `updated_at` is after the stored version's even when this replica's clock is behind, so the consumers'
    newest-wins rule orders the versions as meeting wrote them.
    """
    stored = await workcal_store.current(uow.session, workcal_years, year)  # locked until the commit
    before = stored or holidays.years().get(year)  # a seed year's history carries on
    at = holidays.next_stamp(dt.datetime.now(dt.UTC), stored.updated_at if stored else None)
    entry = holidays.entered(year, source, off, on, by=by, at=at, before=before)
    await workcal_store.store(uow.session, workcal_years, entry, dialect=uow.dialect)
    county = load_directory().county.code
    await uow.emit(workcal_store.EVENT, community=county, subject=str(year), data=_event(entry))
    uow.after_commit(lambda: holidays.put(entry))  # this replica at once; the others within RECHECK_SECONDS
    return entry


def _event(year: holidays.Year) -> WorkcalYearEntered:
    return WorkcalYearEntered(
        year=year.year,
        source=year.source,
        holidays=sorted(year.holidays),
        workdays=sorted(year.workdays),
        updated_at=holidays.stamp(year.updated_at),
    )


async def announce_all(uow: UnitOfWork) -> list[int]:
    """Emit every year of record again as it is (same `updated_at`): a copy that missed it takes it, others ignore it.

    For a service whose copy started late (its queue did not exist yet when the year was entered, a restored or new
    database); `python -m services.meeting workcal-announce`.
    """
    stored = await workcal_store.load(uow.session, workcal_years)
    county = load_directory().county.code
    for number in sorted(stored):
        await uow.emit(workcal_store.EVENT, community=county, subject=str(number), data=_event(stored[number]))
    return sorted(stored)
