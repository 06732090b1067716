"""The halls (议事厅) as the directory defines them: parties, departments, place, fixed day, quorum."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from services.meeting import calendars, domain, planner, tiers
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import PARTIES, Community, load_directory
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.privacy import mask_phone
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1/halls", tags=["halls"])

PARTY_ZH = {
    "party_org": "社区党组织",
    "owners_committee": "业主委员会",
    "property_company": "物业服务企业",
    "resident_rep": "居民代表",
    "partner_unit": "结对共建单位",
}


class MemberOut(BaseModel):
    """A named roster member; the phone is masked, e-mail and WeCom ids are not shown."""

    name: str
    unit: str | None
    role: str | None
    phone: str | None


class PartyOut(BaseModel):
    """One of the five parties with its members."""

    party: str
    label: str
    members: list[MemberOut]


class DepartmentOut(BaseModel):
    """A functional department invited when the agenda touches its categories."""

    code: str
    name: str
    categories: list[str]


class CompoundHallOut(BaseModel):
    """A compound's own deliberation group (小区议事会): 小事不出小区."""

    compound: str
    compound_name: str
    name: str
    place: str
    fixed_day: str
    next_fixed_days: list[dt.datetime]
    topics_per_session: int
    quorum: list[str]
    quorum_labels: list[str]
    categories: list[str] = Field(description="The matters it takes (the rest go to the community hall)")
    max_households: int
    parties: list[PartyOut] = Field(description="Its members, and the community's grid worker under 社区党组织")


class HallOut(BaseModel):
    """A community's hall."""

    community: str
    name: str
    place: str
    fixed_day: str
    next_fixed_days: list[dt.datetime]
    topics_per_session: int
    quorum: list[str]
    quorum_labels: list[str]
    emergency_within_hours: int
    notices_channel: str
    parties: list[PartyOut]
    departments: list[DepartmentOut]
    compound_halls: list[CompoundHallOut] = Field(default_factory=list, description="Compounds with their own 议事")


class FeedOut(BaseModel):
    """A roster member's personal calendar feed (subscribe in a calendar app; keep it private)."""

    party: str
    name: str
    url: str


def _community(code: str, principal: Principal) -> Community:
    found = load_directory().community(code)
    if found is None or found.code != code:
        raise Problem(404, "未找到该社区", "Community not found")
    in_scope(principal, code)
    return found


def next_fixed_days(community: Community, now: dt.datetime, n: int = 3, hall: str = "community") -> list[dt.datetime]:
    """The next n fixed deliberation days of a hall (holidays and 调休 applied)."""
    rule = planner.rule_of(community, hall)
    out, when = [], now
    for _ in range(n):
        when = domain.next_fixed_day(rule, when)
        out.append(when)
    return out


@router.get("/{community}", response_model=HallOut, summary="A community's hall (议事厅)")
async def get_hall(
    community: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(require("session.read"))],
) -> HallOut:
    """The five parties with named members, invitable departments, place, fixed day and quorum."""
    c = _community(community, principal)
    hall = c.hall
    return HallOut(
        community=c.code,
        name=c.name,
        place=hall.place,
        fixed_day=str(planner.rule_of(c)),
        next_fixed_days=next_fixed_days(c, planner.utcnow()),
        topics_per_session=hall.topics_per_session,
        quorum=list(hall.quorum),
        quorum_labels=[PARTY_ZH[p] for p in hall.quorum],
        emergency_within_hours=hall.emergency_within_hours,
        notices_channel=c.notices.channel,
        parties=[
            PartyOut(
                party=p,
                label=PARTY_ZH[p],
                members=[
                    MemberOut(name=m.name, unit=m.unit, role=m.role, phone=mask_phone(m.phone))
                    for m in c.roster.get(p, [])
                ],
            )
            for p in PARTIES
        ],
        departments=[DepartmentOut(code=d.code, name=d.name, categories=list(d.categories)) for d in c.departments],
        compound_halls=[_compound_hall(c, comp.code) for comp in c.compounds if comp.hall is not None],
    )


def _compound_hall(c: Community, code: str) -> CompoundHallOut:
    comp = c.compound(code)
    hall = comp.hall
    people: dict[str, list[MemberOut]] = {p: [] for p in PARTIES}
    for m in c.grid_workers_of(code):
        people["party_org"].append(MemberOut(name=m.name, unit=c.name, role="网格员", phone=mask_phone(m.phone)))
    for p, members in hall.members.items():
        people[p] += [MemberOut(name=m.name, unit=m.unit, role=m.role, phone=mask_phone(m.phone)) for m in members]
    return CompoundHallOut(
        compound=comp.code,
        compound_name=comp.name,
        name=planner.hall_name(c, comp.code),
        place=hall.place,
        fixed_day=str(planner.rule_of(c, comp.code)),
        next_fixed_days=next_fixed_days(c, planner.utcnow(), hall=comp.code),
        topics_per_session=hall.topics_per_session,
        quorum=list(hall.quorum),
        quorum_labels=[PARTY_ZH[p] for p in hall.quorum],
        categories=list(hall.categories if hall.categories is not None else tiers.COMPOUND_CATEGORIES),
        max_households=hall.max_households,
        parties=[PartyOut(party=p, label=PARTY_ZH[p], members=ms) for p, ms in people.items() if ms],
    )


@router.get("/{community}/feeds", response_model=Page[FeedOut], summary="Members' calendar feeds (个人日历订阅地址)")
async def get_feeds(
    community: Annotated[str, Path(max_length=64)],
    request: Request,
    principal: Annotated[Principal, Depends(require("session.manage"))],
    limit: Limit = 500,
    offset: Offset = 0,
) -> Page[FeedOut]:
    """Each roster member's private calendar feed URL, for the party organisation to hand out."""
    c = _community(community, principal)
    base = str(request.base_url).rstrip("/")
    feeds = [
        FeedOut(
            party=p, name=m.name, url=f"{base}/v1/calendars/participants/{calendars.feed_token(c.code, p, m.name)}.ics"
        )
        for p in PARTIES
        for m in c.roster.get(p, [])
    ]
    return window(feeds, limit, offset)
