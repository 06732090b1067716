"""The working calendar as people see and keep it: which years are covered, and the county's holiday table."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from services.meeting import domain, holiday_table, planner
from services.runtime import holidays, workcal
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1/workcal", tags=["meeting: working calendar"])
log = logging.getLogger(__name__)
SOURCE_ZH = {
    "county": "县级录入（依国务院办公厅通知）",
    "library": "内置日历（chinesecalendar）",
    None: "未覆盖：按周一至周五计算",
}


class YearOut(BaseModel):
    """One year of the working calendar: where it comes from and its official days."""

    year: int
    source: Literal["county", "library"] | None
    source_label: str
    notice: str | None = Field(description="The notice the county entered it from")
    holidays: list[dt.date]
    workdays: list[dt.date] = Field(description="Weekend days worked (调休上班)")
    updated_by: str | None
    updated_at: str | None
    changes: list[dict]


class CalendarOut(BaseModel):
    """The years around today, and a warning in words when the next 90 days are not covered."""

    today: dt.date
    horizon_days: int
    covered: bool
    warning: str | None
    years: list[YearOut]


class YearIn(BaseModel):
    """A year's official arrangement as published (国务院办公厅关于YYYY年部分节假日安排的通知)."""

    source: str = Field(min_length=1, max_length=200, description="The notice's title and number")
    holidays: list[dt.date] = Field(min_length=1, max_length=60, description="Days off (放假)")
    workdays: list[dt.date] = Field(default_factory=list, max_length=20, description="Weekend days worked (调休上班)")


def _year(year: int) -> YearOut:
    source, off, on = workcal.arrangement(year)
    county = holidays.years().get(year) if source == "county" else None
    return YearOut(
        year=year,
        source=source,
        source_label=SOURCE_ZH[source],
        notice=county.source if county else None,
        holidays=off,
        workdays=on,
        updated_by=county.updated_by if county else None,
        updated_at=county.updated_at if county else None,
        changes=list(county.changes) if county else [],
    )


def _calendar() -> CalendarOut:
    today = planner.utcnow().astimezone(domain.TZ).date()
    years = sorted({today.year - 1, today.year, today.year + 1, *holidays.years()})
    warning = workcal.coverage_warning(today)
    return CalendarOut(
        today=today,
        horizon_days=workcal.HORIZON_DAYS,
        covered=warning is None,
        warning=warning,
        years=[_year(y) for y in years],
    )


@router.get("", response_model=CalendarOut, summary="The working calendar's years (工作日历)")
async def get_calendar(_: Annotated[Principal, Depends(require("workcal.read"))]) -> CalendarOut:
    """Which years are covered and by what; a warning when the next 90 days are not."""
    return await asyncio.to_thread(_calendar)


@router.put("/years/{year}", response_model=YearOut, summary="Enter a year's holidays and 调休 (录入放假安排)")
async def put_year(
    year: Annotated[int, Path(ge=2000, le=2100)],
    body: YearIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("workcal.manage"))],
) -> YearOut:
    """Keep the county's copy of a year's official arrangement; who and when are kept with the year.

    Written to meeting's table of record and announced (workcal.year_entered.v1) in one transaction: the ledger and
    feedback keep their own copies, so every service counts the same workdays.
    """
    try:
        async with ctx.bus.uow(actor=principal.sub) as uow:
            # Who entered it is shown on the holiday page: name and role, never the account id (the log keeps that).
            by = principal.words()
            await holiday_table.enter_year(uow, year, body.source, body.holidays, body.workdays, by=by)
            await uow.commit()
    except holidays.HolidayError as exc:
        raise Problem(422, exc.zh, exc.en, field=exc.field) from exc
    except IntegrityError as exc:  # another operator entered the same new year at the same moment
        raise Problem(
            409, "该年度刚被他人录入，请刷新后再试", "The year was just entered by someone else; reload"
        ) from exc
    log.info("workcal.year_saved year=%s by=%s holidays=%s", year, principal.sub, len(body.holidays))
    return await asyncio.to_thread(_year, year)
