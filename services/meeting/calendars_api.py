"""HTTP routes of calendars: parse, call calendars, map refusals to problem+json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from services.meeting.calendars import build_calendar, find_member, sessions_of
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, public, require
from services.runtime.directory import load_directory
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1/calendars", tags=["calendars"])


ICS = "text/calendar; charset=utf-8"


def _ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type=ICS,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, max-age=300"},
    )


@router.get(
    "/participants/{token}.ics",
    summary="A participant's sessions (个人议事日历订阅)",
    dependencies=[Depends(public("calendar apps subscribe with an unguessable per-member HMAC feed token"))],
)
async def participant_calendar(ctx: Ctx, token: Annotated[str, Path(min_length=16, max_length=64)]) -> Response:
    """Sessions the roster member is invited to; the token in the URL is the credential."""
    found = find_member(token)
    if found is None:
        raise Problem(404, "未找到该日历", "Calendar not found")
    community, party, member = found
    async with ctx.db.session() as db:
        rows, titles = await sessions_of(db, community.code)
    mine = [s for s in rows if any(i["party"] == party and i["name"] == member.name for i in s.invitees)]
    body = build_calendar(f"{community.name}议事日历（{member.name}）", mine, titles, community)
    return _ics(body, "hall.ics")


@router.get("/{community}.ics", summary="A community's sessions (社区议事日历)")
async def community_calendar(
    community: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.read"))],
) -> Response:
    """Every session of a community (last 90 days and ahead) as iCalendar."""
    found = load_directory().community(community)
    if found is None or found.code != community:
        raise Problem(404, "未找到该社区", "Community not found")
    in_scope(principal, community)
    async with ctx.db.session() as db:
        rows, titles = await sessions_of(db, community)
    return _ics(build_calendar(f"{found.name}议事日历", rows, titles, found), f"{community}.ics")
