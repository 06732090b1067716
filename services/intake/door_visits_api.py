"""HTTP routes of door_visits: parse, call door_visits, map refusals to problem+json."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel

from services.intake.door_visits import CST, grid_member, parse_sheet
from services.intake.service import Incoming, accept
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import load_directory
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1/imports", tags=["intake"])
PATH = "/v1/imports/door-visits"


MAX_BYTES = 5 * 1024 * 1024


class RowResult(BaseModel):
    """One row's outcome: accepted with its report, or rejected with reasons per column."""

    row: int
    status: str
    report_id: str | None = None
    tracking_code: str | None = None
    created: bool | None = None
    errors: list[dict[str, str]] = []


class ImportOut(BaseModel):
    """The outcome of one uploaded file."""

    community: str
    file: str
    format: str
    encoding: str | None
    rows: int
    accepted: int
    created: int
    rejected: int
    results: list[RowResult]


@router.post("/door-visits", response_model=ImportOut, summary="Import a door-to-door visit sheet (走访台账导入)")
async def import_door_visits(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("report.import"))],
    community: Annotated[str, Form(min_length=1, max_length=64)],
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX, at most 5 MiB and 2000 rows")],
) -> ImportOut:
    """Each row is judged alone: good rows are stored, bad rows are listed with reasons; re-uploads add nothing."""
    found = load_directory().community(community)
    if found is None:
        raise Problem(422, f"未知社区「{community}」", f"Unknown community {community!r}", field="community")
    in_scope(principal, found.code)
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Problem(413, "文件超过 5 MiB", "File larger than 5 MiB", field="file")
    # Parsing is CPU work: off the event loop, so /healthz and every other request keep being answered.
    meta, rows = await asyncio.to_thread(parse_sheet, data, found)
    results: list[RowResult] = []
    async with ctx.bus.uow(actor=principal.sub) as uow:
        for row in rows:
            if row.errors:
                results.append(RowResult(row=row.number, status="rejected", errors=row.errors))
                continue
            v = row.values
            occurred = dt.datetime.combine(row.visited_on, dt.time(), CST) if row.visited_on else None
            inc = Incoming(
                community=found.code,
                channel="door_visit",
                channel_message_id=row.message_id(found.code),
                text=v["text"],
                compound=v["compound"] or None,
                building=v["building"] or None,
                unit=v["unit"] or None,
                room=v["room"] or None,
                kind_hint=v["kind"] or None,
                name=v["name"] or None,
                phone=v["phone"] or None,
                callback_consent=row.callback_consent,
                occurred_at=occurred,
                provenance={
                    "entered_by": principal.sub,
                    "visited_by": v["visitor"] or None,
                    "visited_on": v["date"] or None,
                    "file": (file.filename or "")[:100],
                    "row": row.number,
                    **grid_member(found, v["compound"], v["building"], v["visitor"]),
                },
            )
            report, created = await accept(uow, inc)
            results.append(
                RowResult(
                    row=row.number,
                    status="accepted",
                    report_id=report.id,
                    tracking_code=report.tracking_code,
                    created=created,
                )
            )
        await uow.commit()
    accepted = [r for r in results if r.status == "accepted"]
    return ImportOut(
        community=found.code,
        file=(file.filename or "")[:100],
        format=meta["format"],
        encoding=meta["encoding"],
        rows=len(rows),
        accepted=len(accepted),
        created=sum(1 for r in accepted if r.created),
        rejected=len(results) - len(accepted),
        results=results,
    )
