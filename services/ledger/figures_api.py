"""HTTP routes of figures: parse, call figures, map refusals to problem+json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.ledger.figures import FigureRow, GroupKey, month_range, tally
from services.ledger.models import Entry
from services.runtime.auth import Principal
from services.runtime.authz import require, scope_filter
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger"])


class Figures(FigureRow):
    """Figures over the entries in scope, and per group when group_by is given."""

    community: str | None
    month: str | None
    group_by: list[str]
    groups: list[FigureRow]


@router.get("/figures", response_model=Figures, summary="Headline figures (办结率、满意率)")
async def figures(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    community: str | None = Query(None, max_length=64),
    month: str | None = Query(None, max_length=7, description="YYYY-MM: entries registered that month (Beijing)"),
    group_by: Annotated[list[GroupKey] | None, Query(max_length=3)] = None,
) -> Figures:
    """Figures over the entries in scope (county-wide for the county operator), optionally grouped."""
    keys = list(dict.fromkeys(group_by or []))
    cond = [scope_filter(principal, Entry.community, community)]
    if month:
        start, end = month_range(month)
        cond += [Entry.created_at >= start, Entry.created_at < end]
    async with ctx.db.session() as s:
        total, groups = await tally(s, cond, keys)
    order = sorted(groups, key=lambda values: tuple("" if v is None else str(v) for v in values))
    return Figures(
        **total.row().model_dump(),
        community=community,
        month=month,
        group_by=keys,
        groups=[groups[values].row(dict(zip(keys, values, strict=True))) for values in order],
    )
