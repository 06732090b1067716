"""The door-knocking campaigns as a list (search, pages) and as an XLSX in words, each with its coverage figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import case, distinct
from sqlmodel import func, select

from services.intake.models import Visit, VisitCampaign
from services.intake.visits_api import CampaignOut, _campaign_out, _grids, _rate
from services.runtime.auth import Principal
from services.runtime.authz import require, scope_filter
from services.runtime.directory import load_directory
from services.runtime.export import EXPORT_MAX, Keyword, Lang, Since, Until, like, place_words, xlsx_response
from services.runtime.pages import Limit, Offset, Page
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])

Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="One month (YYYY-MM)")]


class CampaignRow(CampaignOut):
    """A campaign as listed, with its figures: visits made, households reached of the directory's households."""

    visits: int = 0
    visited: int = 0
    households: int = 0
    rate: float | None = None


def _conditions(principal: Principal, community, month, q, since, until) -> list:
    """The WHERE of the list and its export: scope, month, a keyword in the name, months overlapping the days."""
    conds = [scope_filter(principal, VisitCampaign.community, community)]
    if month:
        conds.append(VisitCampaign.month == month)
    if q and q.strip():
        conds.append(VisitCampaign.name.like(like(q), escape="\\"))
    # A campaign is a month: it matches when its month overlaps the Beijing days asked for.
    if since:
        conds.append(VisitCampaign.month >= f"{since:%Y-%m}")
    if until:
        conds.append(VisitCampaign.month <= f"{until:%Y-%m}")
    return conds


def _households(campaign: VisitCampaign) -> int:
    """The directory's households in the campaign's grids (0 when the community has left the directory)."""
    community = load_directory().community(campaign.community)
    if community is None:
        return 0
    total = 0
    for grid in _grids(community, campaign):
        for key in grid.buildings:
            cc, bc = key.split(":", 1)
            compound = community.compound(cc)
            building = compound.building(bc) if compound else None
            total += (building.households or 0) if building else 0
    return total


async def _rows(s, campaigns: list[VisitCampaign]) -> list[CampaignRow]:
    """Each campaign with its counts (one grouped query for the page)."""
    ids = [c.id for c in campaigns]
    counts: dict[str, tuple[int, int]] = {}
    if ids:
        reached = func.count(distinct(case((Visit.met.is_(True), Visit.household_ref))))
        q = select(Visit.campaign_id, func.count(), reached).where(Visit.campaign_id.in_(ids))
        for cid, visits, visited in (await s.exec(q.group_by(Visit.campaign_id))).all():
            counts[cid] = (visits, visited)
    out = []
    for c in campaigns:
        visits, visited = counts.get(c.id, (0, 0))
        households = _households(c)
        out.append(
            CampaignRow(
                **_campaign_out(c).model_dump(),
                visits=visits,
                visited=visited,
                households=households,
                rate=_rate(visited, households),
            )
        )
    return out


def _ordered(conds: list):
    return select(VisitCampaign).where(*conds).order_by(VisitCampaign.month.desc(), VisitCampaign.created_at.desc())


@router.get("/visit-campaigns", response_model=Page[CampaignRow], summary="Visit campaigns (走访活动列表)")
async def list_campaigns(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("visit.read"))],
    community: str | None = Query(None, max_length=64),
    month: Month = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CampaignRow]:
    """Campaigns of the communities the caller may see, newest month first, with their coverage figures."""
    conds = _conditions(principal, community, month, q, since, until)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(VisitCampaign).where(*conds))).one()
        campaigns = list((await s.exec(_ordered(conds).offset(offset).limit(limit))).all())
        items = await _rows(s, campaigns)
    return Page[CampaignRow](items=items, total=total, limit=limit, offset=offset)


HEADERS = {
    "zh": ["走访活动", "社区", "月份", "走访次数", "走到户数", "总户数", "覆盖率", "创建时间"],
    "en": ["Campaign", "Community", "Month", "Visits", "Households reached", "Households", "Coverage", "Opened"],
}


@router.get("/visit-campaigns.xlsx", summary="Export visit campaigns (走访活动导出, XLSX)")
async def export_campaigns(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("visit.read"))],
    community: str | None = Query(None, max_length=64),
    month: Month = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same campaigns as the list, in words: the community by its name, coverage as a percentage, no ids."""
    conds = _conditions(principal, community, month, q, since, until)
    async with ctx.db.session() as s:
        campaigns = list((await s.exec(_ordered(conds).limit(EXPORT_MAX))).all())
        rows = await _rows(s, campaigns)
    body = [
        [
            r.name,
            place_words(r.community),
            r.month,
            r.visits,
            r.visited,
            r.households,
            f"{r.rate * 100:.1f}%" if r.rate is not None else ("暂无数据" if lang == "zh" else "No data"),
            r.created_at,
        ]
        for r in rows
    ]
    title = "走访活动" if lang == "zh" else "Visit campaigns"
    return xlsx_response(title, HEADERS[lang], body, f"{title}.xlsx")


__all__ = ["router"]
