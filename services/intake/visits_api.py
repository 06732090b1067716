"""Door-knocking campaigns (敲响邻里门): grids' members visit households; coverage; reports from a visit.

The directory's grids (网格) name the buildings each covers and its members (网格员, 楼栋长, 党员). The party
organisation opens a campaign for a month; a visit records which household was reached, by which member
of the building's grid, and the problems the household raised become door_visit reports attributed to
that visitor. Coverage counts distinct households per building against the directory's household counts.
Doors (unit and room) are encrypted at rest and shown to staff only; households are pseudonymous.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.intake import domain
from services.intake.models import Visit, VisitCampaign
from services.intake.service import Incoming, accept, vault
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import Community, Grid, load_directory
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])

CST = dt.timezone(dt.timedelta(hours=8))
ROLE_ZH = {"grid_worker": "网格员", "building_head": "楼栋长", "party_member": "党员"}


class CampaignIn(BaseModel):
    """A month's door-knocking campaign over some grids (all when none are named)."""

    model_config = ConfigDict(extra="forbid")

    community: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    month: str = Field(description="YYYY-MM")
    grids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=100)


class CampaignOut(BaseModel):
    """A campaign as listed."""

    id: str
    community: str
    name: str
    month: str
    grids: list[str]
    created_by: str
    created_at: dt.datetime


class VisitReportIn(BaseModel):
    """A problem or suggestion the household raised at the door."""

    text: str = Field(min_length=1, max_length=5000)
    kind: Literal["problem", "suggestion"] | None = None


class VisitIn(BaseModel):
    """One household visited: where, by whom, whether anyone was in, what they raised."""

    model_config = ConfigDict(extra="forbid")

    compound: str = Field(min_length=1, max_length=64)
    building: str = Field(min_length=1, max_length=32)
    unit: int = Field(ge=1, le=50)
    room: str = Field(min_length=1, max_length=16)
    visitor: str = Field(min_length=1, max_length=64, description="The grid member who knocked")
    visited_at: dt.datetime | None = None
    met: bool = True
    reports: list[VisitReportIn] = Field(default_factory=list, max_length=10)


class VisitReportOut(BaseModel):
    """A report raised at a visit."""

    report_id: str
    tracking_code: str


class VisitOut(BaseModel):
    """A recorded visit (the door is not echoed back)."""

    id: str
    campaign_id: str
    grid: str
    compound: str
    building: str
    visitor: str
    visitor_role: str
    visitor_role_label: str
    met: bool
    visited_at: dt.datetime
    reports: list[VisitReportOut]


class BuildingOut(BaseModel):
    """A building's coverage: households in the directory, visited, which doors (staff only)."""

    compound: str
    compound_name: str
    building: str
    building_name: str
    households: int
    visited: int
    rate: float | None
    doors: list[str]


class GridOut(BaseModel):
    """A grid's coverage."""

    code: str
    name: str
    households: int
    visited: int
    rate: float | None
    buildings: list[BuildingOut]


class VisitorOut(BaseModel):
    """What one member did in the campaign."""

    name: str
    role: str
    role_label: str
    grid: str
    visits: int
    households: int
    reports: int


class CoverageOut(BaseModel):
    """A campaign's household coverage (这个月走访了哪些户) by grid and building, and by visitor."""

    campaign: CampaignOut
    households: int
    visited: int
    rate: float | None
    grids: list[GridOut]
    visitors: list[VisitorOut]


def _community(code: str) -> Community:
    found = load_directory().community(code)
    if found is None:
        raise Problem(422, "名录中没有该社区", "Unknown community", field="community")
    return found


def _campaign_out(c: VisitCampaign) -> CampaignOut:
    return CampaignOut(**c.model_dump(include=set(CampaignOut.model_fields)))


def _grids(community: Community, campaign: VisitCampaign) -> list[Grid]:
    return [g for g in community.grids if not campaign.grids or g.code in campaign.grids]


def _rate(visited: int, households: int) -> float | None:
    return round(min(visited / households, 1.0), 4) if households else None


async def _load(ctx_db, campaign_id: str, principal: Principal) -> VisitCampaign:
    c = await ctx_db.get(VisitCampaign, campaign_id)
    if c is None:
        raise Problem(404, "未找到该走访活动", "Campaign not found")
    in_scope(principal, c.community)
    return c


@router.post(
    "/visit-campaigns", response_model=CampaignOut, status_code=201, summary="Open a visit campaign (走访活动)"
)
async def create_campaign(
    body: CampaignIn, ctx: Ctx, principal: Annotated[Principal, Depends(require("visit.manage"))]
) -> CampaignOut:
    """Open a month's door-knocking campaign over the named grids (all grids when none are named)."""
    in_scope(principal, body.community)
    community = _community(body.community)
    if not domain.valid_month(body.month):
        raise Problem(422, "月份格式应为 YYYY-MM", "Month must be YYYY-MM", field="month")
    unknown = [g for g in body.grids if community.grid(g) is None]
    if unknown:
        raise Problem(422, f"名录中没有网格：{'、'.join(unknown)}", f"Unknown grids: {unknown}", field="grids")
    if not community.grids:
        raise Problem(409, "该社区在名录中没有网格", "The community has no grids in the directory")
    c = VisitCampaign(
        id=f"vca_{uuid.uuid4().hex[:20]}",
        community=community.code,
        name=body.name.strip(),
        month=body.month,
        grids=list(dict.fromkeys(body.grids)),
        created_by=principal.sub[:128],
        created_at=dt.datetime.now(dt.UTC),
    )
    async with ctx.db.session() as s:
        s.add(c)
        try:
            await s.commit()
        except IntegrityError:
            raise Problem(409, "本月已有同名走访活动", "A campaign with this name exists for the month") from None
    return _campaign_out(c)


def _check_visit(community: Community, campaign: VisitCampaign, body: VisitIn) -> tuple[str, str, Grid, str, str]:
    """(compound code, building code, grid, visitor role, door) of a visit, or a 422 naming the field."""
    compound = community.compound(body.compound)
    building = compound.building(body.building.strip()) if compound else None
    if compound is None or building is None:
        raise Problem(422, "名录中没有该楼栋", "Unknown compound or building", field="building")
    grid = community.grid_of(compound.code, building.code)
    if grid is None or grid not in _grids(community, campaign):
        raise Problem(422, "该楼栋不在本次走访活动的网格内", "Building not in the campaign's grids", field="building")
    if body.unit > building.units:
        raise Problem(422, f"{building.name}只有{building.units}个单元", "No such unit", field="unit")
    door = domain.door(body.unit, body.room)
    if door is None:
        raise Problem(422, "房号应为3–4位数字，如301", "Room must be 3-4 digits, e.g. 301", field="room")
    member = grid.member(body.visitor.strip())
    if member is None:
        raise Problem(422, f"走访人不是{grid.name}的成员", "The visitor is not a member of the grid", field="visitor")
    return compound.code, building.code, grid, member.role, door


def _in_month(at: dt.datetime, month: str) -> bool:
    try:
        return at.astimezone(CST).strftime("%Y-%m") == month
    except OverflowError:  # a time at the very edge of the calendar is in no campaign's month
        return False


@router.post(
    "/visit-campaigns/{campaign_id}/visits",
    response_model=VisitOut,
    status_code=201,
    summary="Record a visit (走访登记)",
)
async def record_visit(
    campaign_id: str, body: VisitIn, ctx: Ctx, principal: Annotated[Principal, Depends(require("visit.record"))]
) -> VisitOut:
    """Record one household visited by a grid member; what it raised becomes reports attributed to the visitor."""
    at = body.visited_at or dt.datetime.now(dt.UTC)
    at = at if at.tzinfo else at.replace(tzinfo=CST)
    async with ctx.bus.uow(actor=principal.sub) as uow:
        campaign = await _load(uow.session, campaign_id, principal)
        community = _community(campaign.community)
        compound, building, grid, role, door = _check_visit(community, campaign, body)
        if not _in_month(at, campaign.month) or at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
            raise Problem(
                422,
                f"走访时间须在{campaign.month}内且不晚于现在",
                "The visit time must lie in the campaign's month",
                field="visited_at",
            )
        v = vault()
        visitor = body.visitor.strip()
        ref = v.pseudonym(domain.household_address(community.code, compound, building, door), prefix="hh")
        digest = hashlib.sha256(f"{campaign.id}|{ref}|{visitor}|{at.isoformat()}".encode()).hexdigest()[:20]
        visit = Visit(
            id=f"vis_{digest}",
            campaign_id=campaign.id,
            community=community.code,
            grid=grid.code,
            compound=compound,
            building=building,
            door_enc=v.encrypt(door),
            household_ref=ref[:64],
            visitor=visitor,
            visitor_role=role,
            met=body.met,
            entered_by=principal.sub[:128],
            visited_at=at,
        )
        if await uow.session.get(Visit, visit.id) is not None:
            raise Problem(409, "该走访已登记", "This visit is already recorded")
        reports: list[VisitReportOut] = []
        for i, raised in enumerate(body.reports):
            inc = Incoming(
                community=community.code,
                channel="door_visit",
                channel_message_id=f"{visit.id}:{i}",
                text=raised.text,
                compound=compound,
                building=building,
                unit=str(body.unit),
                room=body.room.strip(),
                kind_hint=raised.kind,
                occurred_at=at,
                provenance={
                    "entered_by": principal.sub,
                    "visited_by": visitor,
                    "visitor_role": role,
                    "grid": grid.code,
                    "campaign": campaign.id,
                    "visit": visit.id,
                },
            )
            report, _ = await accept(uow, inc)
            reports.append(VisitReportOut(report_id=report.id, tracking_code=report.tracking_code))
        visit.report_ids = [r.report_id for r in reports]
        uow.session.add(visit)
        await uow.commit()
    return VisitOut(
        **visit.model_dump(include=set(VisitOut.model_fields) - {"reports", "visitor_role_label"}),
        visitor_role_label=ROLE_ZH.get(role, role),
        reports=reports,
    )


@router.get(
    "/visit-campaigns/{campaign_id}/coverage", response_model=CoverageOut, summary="Household coverage (走访覆盖)"
)
async def campaign_coverage(
    campaign_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("visit.read"))]
) -> CoverageOut:
    """Which households of the campaign's grids were visited, per grid and building, and by whom."""
    async with ctx.db.session() as s:
        campaign = await _load(s, campaign_id, principal)
        visits = list((await s.exec(select(Visit).where(Visit.campaign_id == campaign.id))).all())
    community = _community(campaign.community)
    v = vault()
    # A household counts as reached when somebody opened the door; knocks on a closed door are only visits.
    rows = [(x.compound, x.building, x.household_ref, v.decrypt(x.door_enc) or "") for x in visits if x.met]
    grids: list[GridOut] = []
    for grid in _grids(community, campaign):
        keys = [key.split(":", 1) for key in grid.buildings]
        places = [(cc, bc, community.compound(cc)) for cc, bc in keys]
        counted = domain.coverage([(cc, bc, (comp.building(bc).households or 0)) for cc, bc, comp in places], rows)
        buildings = [
            BuildingOut(
                compound=b.compound,
                compound_name=comp.name,
                building=b.building,
                building_name=comp.building(b.building).name,
                households=b.households,
                visited=b.visited,
                rate=b.rate,
                doors=list(b.doors),
            )
            for b, (_, _, comp) in zip(counted, places, strict=True)
        ]
        total, visited = sum(b.households for b in buildings), sum(b.visited for b in buildings)
        grids.append(
            GridOut(
                code=grid.code,
                name=grid.name,
                households=total,
                visited=visited,
                rate=_rate(visited, total),
                buildings=buildings,
            )
        )
    by_visitor: dict[tuple[str, str], list[Visit]] = {}
    for x in visits:
        by_visitor.setdefault((x.grid, x.visitor), []).append(x)
    visitors = [
        VisitorOut(
            name=name,
            role=xs[0].visitor_role,
            role_label=ROLE_ZH.get(xs[0].visitor_role, xs[0].visitor_role),
            grid=grid_code,
            visits=len(xs),
            households=len({x.household_ref for x in xs}),
            reports=sum(len(x.report_ids) for x in xs),
        )
        for (grid_code, name), xs in sorted(by_visitor.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    total, visited = sum(g.households for g in grids), sum(g.visited for g in grids)
    return CoverageOut(
        campaign=_campaign_out(campaign),
        households=total,
        visited=visited,
        rate=_rate(visited, total),
        grids=grids,
        visitors=visitors,
    )
