"""HTTP routes of halls: parse, call halls, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from services.meeting import calendars, planner
from services.meeting.halls import (
    PARTY_ZH,
    CompoundHallOut,
    MemberOut,
    PartyOut,
    community_of,
    compound_hall,
    next_fixed_days,
)
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.directory import PARTIES
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.privacy import mask_phone

router = APIRouter(prefix="/v1/halls", tags=["halls"])


class DepartmentOut(BaseModel):
    """A functional department invited when the agenda touches its categories."""

    code: str
    name: str
    categories: list[str]


class HallOut(BaseModel):
    """A community's hall."""

    community: str
    name: str
    hall_name_en: str = Field(description="The hall in English words (`name` is the community's)")
    place: str
    fixed_day: str
    fixed_day_en: str = Field(description="The fixed day in English words")
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


@router.get("/{community}", response_model=HallOut, summary="A community's hall (议事厅)")
async def get_hall(
    community: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(require("session.read"))],
) -> HallOut:
    """The five parties with named members, invitable departments, place, fixed day and quorum."""
    c = community_of(community, principal)
    hall = c.hall
    return HallOut(
        community=c.code,
        name=c.name,
        hall_name_en=planner.hall_name_en(c, "community"),
        place=hall.place,
        fixed_day=str(planner.rule_of(c)),
        fixed_day_en=planner.rule_of(c).en(),
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
        compound_halls=[compound_hall(c, comp.code) for comp in c.compounds if comp.hall is not None],
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
    c = community_of(community, principal)
    base = str(request.base_url).rstrip("/")
    feeds = [
        FeedOut(
            party=p, name=m.name, url=f"{base}/v1/calendars/participants/{calendars.feed_token(c.code, p, m.name)}.ics"
        )
        for p in PARTIES
        for m in c.roster.get(p, [])
    ]
    return window(feeds, limit, offset)
