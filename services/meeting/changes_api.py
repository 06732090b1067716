"""Changing sessions by hand: rescheduling, and convening an on-site inspection (现场勘察) for a matter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from services.meeting import agenda_log, api, conclusion, planner, service
from services.meeting.models import QueuedMatter, aware, utc
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.inputs import Moment
from services.runtime.problems import Problem, field_error
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["meeting"])

MAX_AHEAD = dt.timedelta(days=366)


class RescheduleIn(BaseModel):
    """A new time (and optionally place) for a scheduled session, and why."""

    starts_at: Moment
    reason: str = Field(min_length=1, max_length=500)
    place: str | None = Field(None, min_length=1, max_length=200)


class SessionCreateIn(BaseModel):
    """Convene a session for one matter by hand (only on-site inspections are convened this way)."""

    kind: Literal["site_inspection"]
    matter_id: str = Field(min_length=1, max_length=64)
    starts_at: Moment | None = None
    place: str | None = Field(None, min_length=1, max_length=200)


def _when(value: dt.datetime, field: str) -> dt.datetime:
    """A time without a zone is Asia/Shanghai; it must lie ahead and within a year."""
    value = conclusion.deadline_of(value)
    now = planner.utcnow()
    if value <= now:
        raise conclusion.invalid([field_error(field, "时间须在当前时间之后", "must be in the future")])
    if value > now + MAX_AHEAD:
        raise conclusion.invalid([field_error(field, "时间不能超过一年之后", "must be within a year")])
    return value


@router.post(
    "/sessions/{session_id}/reschedule", response_model=api.SessionOut, summary="Reschedule a session (议事会改期)"
)
async def reschedule_session(
    session_id: str,
    body: RescheduleIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> api.SessionOut:
    """Move a scheduled session; calendars see a higher SEQUENCE and invitees are told."""
    when = _when(body.starts_at, "starts_at")
    place = body.place.strip() if body.place else None
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = await api._load_for_update(uow, session_id, principal)
        if utc(when) == aware(s.starts_at) and (place is None or place == s.place):
            raise conclusion.invalid([field_error("starts_at", "时间和地点均未改变", "neither time nor place changes")])
        s.history = [
            *s.history,
            {
                "at": planner.utcnow().isoformat(),
                "by": principal.sub,
                "from": aware(s.starts_at).isoformat(),
                "to": when.isoformat(),
                "place_from": s.place,
                "place_to": place or s.place,
                "reason": body.reason.strip(),
            },
        ][-50:]
        s.starts_at, s.place, s.sequence = utc(when), place or s.place, s.sequence + 1
        try:
            async with uow.session.begin_nested():
                uow.session.add(s)
        except IntegrityError as exc:
            raise Problem(
                409, "该时间已有本社区的固定议事日议事会", "Another fixed-day session starts at that time"
            ) from exc
        agenda = await planner.agenda_ids(uow, s.id)
        await planner.emit_scheduled(uow, s, status="rescheduled", agenda=agenda)
        await uow.commit()
    return api.SessionOut(**api._summary(s, len(agenda)))


@router.post(
    "/sessions", response_model=api.SessionOut, status_code=201, summary="Convene a site inspection (现场勘察)"
)
async def create_session(
    body: SessionCreateIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> api.SessionOut:
    """Put a matter on an on-site inspection at its building ("<小区名><楼栋>现场" unless a place is given)."""
    when = _when(body.starts_at, "starts_at") if body.starts_at is not None else None
    async with ctx.bus.uow(actor=principal.sub) as uow:
        qm = await uow.session.get(QueuedMatter, body.matter_id)
        unknown = Problem(404, "议事会服务中没有该事项", "Matter not known to the meeting service", field="matter_id")
        if qm is None:
            raise unknown
        in_scope(principal, qm.community, unknown)
        if qm.state in ("resolved", "closed"):
            raise Problem(
                409, "该事项已议决或不再议，不能再安排现场勘察", f"Matter is {qm.state}", extra={"state": qm.state}
            )
        community = api._community(qm.community)
        now = planner.utcnow()
        current = await planner.open_session_of(uow, qm)
        if current is not None:
            if current.kind == "site_inspection":
                raise Problem(409, "该事项已安排现场勘察", "Matter already has a site inspection")
            current = await planner.lock_session(uow, current.id)
            await planner.remove_from_agenda(
                uow,
                current.id,
                qm.matter_id,
                actor=principal.sub,
                action="remove",
                reason=agenda_log.TO_SITE_INSPECTION,
            )
            await planner.emit_scheduled(uow, current)
        s = await service.schedule_site_inspection(
            uow, community, qm, now, starts_at=when, place=body.place.strip() if body.place else None
        )
        count = len(await planner.agenda_ids(uow, s.id))
        await uow.commit()
    return api.SessionOut(**api._summary(s, count))
