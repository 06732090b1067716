"""Board notices over HTTP: list a month's boards, read one (HTML for printing, TXT for WeChat, JSON), publish now."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlmodel import func, select

from services.ledger import disclosure, publicity
from services.ledger.figures import month_range
from services.ledger.models import BoardNotice
from services.ledger.service import utcnow
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import load_directory
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1/publicity", tags=["publicity"])

Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
BOARD_RE = re.compile(r"^([a-z0-9][a-z0-9_-]{0,63})(?:\.(html|txt|json))?$")


class BoardOut(BaseModel):
    """One board's notice of a month (its matters are read through GET …/{board}[.txt|.json])."""

    board: str
    board_kind: str
    board_kind_label: str
    board_name: str
    month: str
    published_at: dt.datetime
    published_by: str
    automatic: bool
    pushed_to_owners_group: bool
    disclosure_version: int
    sha256: str
    summary: dict


def _out(row: BoardNotice) -> BoardOut:
    return BoardOut(
        board=row.board,
        board_kind=row.board_kind,
        board_kind_label=publicity.KIND_ZH.get(row.board_kind, row.board_kind),
        board_name=row.board_name,
        month=row.month,
        published_at=row.published_at,
        published_by=row.published_by,
        automatic=row.published_by == publicity.MONTHLY,
        pushed_to_owners_group=row.pushed,
        disclosure_version=row.disclosure_version,
        sha256=row.sha256,
        summary=row.content.get("summary", {}),
    )


async def _page(ctx: Ctx, community: str, month: str, limit: int, offset: int) -> Page[BoardOut]:
    cond = (BoardNotice.community == community, BoardNotice.month == month)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(BoardNotice).where(*cond))).one()
        q = select(BoardNotice).where(*cond).order_by(BoardNotice.id).offset(offset).limit(limit)
        rows = (await s.exec(q)).all()
    return Page[BoardOut](items=[_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{community}/{month}", response_model=Page[BoardOut], summary="A month's board notices (公示栏)")
async def list_boards(
    community: str,
    month: Month,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("disclosure.read"))],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[BoardOut]:
    """Every compound board's and the party-building board's notice of the month, who put it up and when."""
    in_scope(principal, community)
    return await _page(ctx, community, month, limit, offset)


@router.get(
    "/{community}/{month}/{name}",
    summary="One board's notice: {board} (HTML for printing), {board}.txt (WeChat group), {board}.json",
    response_model=None,
)
async def read_board(
    community: str,
    month: Month,
    name: str,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("disclosure.read"))],
) -> Response:
    """A board's notice as residents see it: no personal data, each matter with its residents' evaluation."""
    m = BOARD_RE.match(name)
    if m is None:
        raise Problem(404, "格式应为 公示栏[.txt|.json]", "Use {board}[.txt|.json]")
    board, fmt = m.group(1), m.group(2) or "html"
    in_scope(principal, community)
    async with ctx.db.session() as s:
        q = select(BoardNotice).where(
            BoardNotice.community == community, BoardNotice.month == month, BoardNotice.board == board
        )
        row = (await s.exec(q)).first()
    if row is None:
        raise Problem(404, "该公示栏本月尚未公示", "No notice for this board and month")
    if disclosure.digest(row.content) != row.sha256:
        raise Problem(500, "公示内容校验失败", "Notice content does not match its sha256")
    # Scrubbed again as it is rendered: a notice frozen under an older scrubber leaks nothing either.
    content = {**row.content, **{"matters": disclosure.public(row.content)["matters"]}}
    if fmt == "json":
        return JSONResponse({"sha256": row.sha256, "published_at": row.published_at.isoformat(), "content": content})
    if fmt == "txt":
        return Response(publicity.to_txt(content), media_type="text/plain; charset=utf-8")
    return HTMLResponse(publicity.to_html(content))


@router.post(
    "/{community}/{month}", response_model=Page[BoardOut], summary="Put up a finished month's board notices now"
)
async def publish_now(
    community: str,
    month: Month,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("disclosure.publish"))],
) -> Page[BoardOut]:
    """What the monthly job does on the 1st, for one community now; boards already up stay as they are."""
    in_scope(principal, community)
    found = load_directory().community(community)
    if found is None:  # pragma: no cover - in_scope admits known communities only
        raise Problem(404, "未找到该社区", "Community not found")
    _, end = month_range(month)
    now = utcnow()
    if end > now:
        raise Problem(422, "只能公示已结束的月份", "Only a finished month can be published", field="month")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        await publicity.publish_month(uow, found, month, actor=principal.sub, now=now)
        await uow.commit()
    return await _page(ctx, community, month, 100, 0)
