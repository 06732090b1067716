"""HTTP routes of hotline_replies: parse, call hotline_replies, map refusals to problem+json."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import func, select

from services.intake.api import resolve_api_key
from services.intake.hotline_replies import CHANNEL, as_utc, satisfaction_text
from services.intake.models import HotlineReply
from services.runtime.auth import Principal
from services.runtime.authz import KeyGrant, require_or_key, scope_filter
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])


TZ = dt.timezone(dt.timedelta(hours=8))


STATE_ZH = {"open": "办理中", "completed": "已办结，待回访", "ready": "可回复"}


# The columns a 12345 platform's reply import expects, in its order.
COLUMNS = ("工单编号", "办理状态", "办理结果", "办理单位", "办结时间", "回访情况", "满意度", "承办时限", "是否超时")


Reader = Annotated[Principal | KeyGrant, Depends(require_or_key("report.read", resolve_api_key))]


class ReplyOut(BaseModel):
    """One order's reply: what was done, by whom, when, and what residents said on the revisit."""

    order_no: str
    state: str
    state_label: str
    result: str | None
    unit: str | None
    completed_at: dt.datetime | None
    revisit: str | None
    satisfaction: str | None
    due_by: dt.datetime | None
    late: bool | None


def _out(r: HotlineReply) -> ReplyOut:
    late = None
    if r.due_by is not None and r.completed_at is not None:
        late = as_utc(r.completed_at) > as_utc(r.due_by)
    return ReplyOut(
        order_no=r.order_no,
        state=r.state,
        state_label=STATE_ZH[r.state],
        result=r.result,
        unit=r.unit,
        completed_at=as_utc(r.completed_at) if r.completed_at else None,
        revisit=r.revisit,
        satisfaction=satisfaction_text(r.satisfaction),
        due_by=as_utc(r.due_by) if r.due_by else None,
        late=late,
    )


async def _query(ctx, who, community: str | None, state: str | None, limit: int, offset: int):
    if isinstance(who, KeyGrant):
        if community is None:
            raise Problem(422, "请指定社区", "Give the community", field="community")
        who.check(community, CHANNEL)
        where = HotlineReply.community == community
    else:
        where = scope_filter(who, HotlineReply.community, community)
    conds = [where] + ([HotlineReply.state == state] if state else [])
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(HotlineReply).where(*conds))).one()
        q = select(HotlineReply).where(*conds).order_by(HotlineReply.updated_at, HotlineReply.order_no)
        rows = list((await s.exec(q.limit(limit).offset(offset))).all())
    return [_out(r) for r in rows], total


State = Annotated[Literal["open", "completed", "ready"] | None, Query(description="ready: 可回复")]


@router.get("/hotline-replies", response_model=Page[ReplyOut], summary="12345 replies (工单回复)")
async def list_replies(
    ctx: Ctx, who: Reader, community: str | None = None, state: State = None, limit: Limit = 50, offset: Offset = 0
) -> Page[ReplyOut]:
    """Each order's reply for the platform's adapter to pull (an API key scoped to hotline_12345) or staff."""
    items, total = await _query(ctx, who, community, state, limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


def _cells(r: ReplyOut) -> list[str]:
    when = r.completed_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if r.completed_at else ""
    due = r.due_by.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if r.due_by else ""
    late = "" if r.late is None else ("是" if r.late else "否")
    return [
        r.order_no,
        r.state_label,
        r.result or "",
        r.unit or "",
        when,
        r.revisit or "",
        r.satisfaction or "",
        due,
        late,
    ]


@router.get("/hotline-replies/export", summary="12345 replies as the platform imports them (CSV / XLSX)")
async def export_replies(
    ctx: Ctx,
    who: Reader,
    community: str | None = None,
    state: State = "ready",
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The replies in the platform's columns (工单编号, 办理结果, 办理单位, 办结时间, 回访情况, 满意度 ...)."""
    items, _ = await _query(ctx, who, community, state, 10_000, 0)
    stamp = dt.datetime.now(TZ).strftime("%Y%m%d")
    if format == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "工单回复"
        ws.append(list(COLUMNS))
        for r in items:
            ws.append(_cells(r))
        buf = io.BytesIO()
        wb.save(buf)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(buf.getvalue(), media_type=media, headers=_attachment(f"12345-replies-{stamp}.xlsx"))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in items:
        w.writerow(_cells(r))
    # With a BOM: the platform's operators open it in Excel, which needs it to read UTF-8.
    body = "\ufeff" + out.getvalue()
    return Response(body, media_type="text/csv; charset=utf-8", headers=_attachment(f"12345-replies-{stamp}.csv"))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
