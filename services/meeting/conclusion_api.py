"""HTTP routes of conclusion: parse, call conclusion, map refusals to problem+json."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.contracts import events
from services.contracts.vocabulary import Party
from services.meeting import domain, minutes, planner, service, tier_api
from services.meeting.api import STATUS_ZH, Name, _community, _load_for_update
from services.meeting.conclusion import ResolutionIn, check_resolution, deadline_of, has_value, invalid, present_of
from services.meeting.models import QueuedMatter, aware
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.problems import Problem, field_error
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["meeting"])


class ConcludeIn(BaseModel):
    """Who attended (the five parties, invited departments, parties concerned) and what was decided."""

    attendance: dict[Party, Annotated[list[Name], Field(max_length=50)]] = Field(default_factory=dict)
    departments: list[minutes.DepartmentIn] = Field(default_factory=list, max_length=20)
    concerned: list[minutes.ConcernedIn] = Field(default_factory=list, max_length=20)
    resolutions: list[ResolutionIn] = Field(default_factory=list, max_length=200)
    notes: str | None = Field(None, max_length=5000)


class ConcludeOut(BaseModel):
    """The result of concluding: concluded, or adjourned without quorum."""

    session_id: str
    status: Literal["concluded", "adjourned"]
    status_label: str
    missing_parties: list[str] = Field(default_factory=list)
    follow_up_sessions: list[str] = Field(default_factory=list)


@router.post("/sessions/{session_id}/conclude", response_model=ConcludeOut, summary="Conclude a session (议事结果)")
async def conclude_session(
    session_id: str,
    body: ConcludeIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> ConcludeOut:
    """Record attendance and resolutions; without quorum the session is adjourned and its agenda requeued."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = await _load_for_update(uow, session_id, principal)
        if not domain.may_conclude(s.kind, aware(s.starts_at), planner.utcnow()):
            day = aware(s.starts_at).astimezone(domain.TZ).date().isoformat()
            raise Problem(
                409,
                f"议事会定于{day}召开，当天或之后才能记录议事结果；如已提前召开，请先改期",
                f"The session is set for {day}; conclude it on or after that day (reschedule it if it met earlier)",
                field="starts_at",
                extra={"starts_on": day},
            )
        community = _community(s.community)
        agenda = await planner.agenda_ids(uow, s.id)
        attendance, departments, concerned, seen = _checked(s, community, agenda, body)
        missing = domain.missing_parties(planner.quorum_of(community, s.hall), attendance)
        now = planner.utcnow()
        s.attendance, s.concluded_at = attendance, now
        if missing:
            # 不足法定方: nothing is decided; the matters wait for the next session, one step older.
            s.status = "adjourned"
            s.minutes = {
                "notes": body.notes,
                "missing_parties": missing,
                "resolutions": [],
                **present_of(departments, concerned),
            }
            uow.session.add(s)
            await service.requeue(uow, agenda, carry=True)
            await uow.commit()
            return ConcludeOut(
                session_id=s.id, status="adjourned", status_label=STATUS_ZH["adjourned"], missing_parties=missing
            )
        await _refuse_unresolved(uow, [m for m in agenda if m not in seen])
        resolutions = _resolutions(s, community, body, attendance, departments, concerned, now)
        s.status = "concluded"
        s.minutes = {
            "notes": body.notes,
            "resolutions": [r.model_dump(mode="json") for r in resolutions],
            **present_of(departments, concerned),
        }
        uow.session.add(s)
        if s.kind == "fixed_day":
            # Before the deferred ones rejoin the queue: they get their own single step below.
            await service.carry_over(uow, s)
        follow_ups = await _carry_out(uow, community, s, resolutions, principal, now)
        await uow.emit(
            "session.concluded.v1",
            community=s.community,
            subject=s.id,
            data=events.SessionConcluded(
                session_id=s.id,
                kind=s.kind,
                concluded_at=now,
                attendance=attendance,
                resolutions=resolutions,
                departments=departments,
                concerned=concerned,
            ),
        )
        await uow.commit()
    return ConcludeOut(
        session_id=s.id, status="concluded", status_label=STATUS_ZH["concluded"], follow_up_sessions=follow_ups
    )


def _checked(s, community, agenda: list[str], body: ConcludeIn):
    """Attendance, departments and parties concerned present, and the matters resolved; 422 on any error."""
    on_agenda = set(agenda)
    errors: list[dict] = []
    seen: set[str] = set()
    for i, r in enumerate(body.resolutions):
        if r.matter_id not in on_agenda:
            errors.append(
                field_error(f"resolutions[{i}].matter_id", "该事项不在本次议程中", "Matter is not on the agenda")
            )
        elif r.matter_id in seen:
            errors.append(field_error(f"resolutions[{i}].matter_id", "同一事项只能有一项决议", "Duplicate resolution"))
        seen.add(r.matter_id)
        errors += check_resolution(i, r)
    attendance = domain.clean_attendance(body.attendance)
    departments, more = minutes.departments_present(community, body.departments)
    errors += more
    concerned, more = minutes.concerned_present(body.concerned)
    errors += more
    if errors:
        raise invalid(errors)
    errors += tier_api.refer_errors(s, body.resolutions)
    if errors:
        raise invalid(errors)
    return attendance, departments, concerned, seen


async def _refuse_unresolved(uow, unresolved: list[str]) -> None:
    """Every agenda matter of a quorate session needs a resolution (422 naming the missing ones)."""
    if unresolved:
        # Named by their titles: a person never reads a matter id.
        titles = [(await uow.session.get(QueuedMatter, m)) for m in unresolved[:10]]
        names = "、".join(f"「{q.title}」" if q else "（未知议题）" for q in titles)
        raise invalid(
            [
                field_error(
                    "resolutions",
                    f"议程事项缺少决议：{names}",
                    f"Every agenda matter needs a resolution; missing: {names}",
                )
            ]
        )


def _resolutions(s, community, body: ConcludeIn, attendance, departments, concerned, now) -> list[events.Resolution]:
    """The resolutions as events carry them: stances, commitments and the department checked (422 on errors)."""
    errors: list[dict] = []
    resolutions: list[events.Resolution] = []
    for i, r in enumerate(body.resolutions):
        field = f"resolutions[{i}]"
        stances, more = minutes.stances_of(field, r.stances, attendance, departments, concerned)
        errors += more
        promises, more = minutes.commitments_of(field, s.id, r.matter_id, r.outcome, r.commitments, now)
        errors += more
        plain = r.model_dump(exclude={"deadline", "stances", "commitments"})
        if r.outcome == "escalate" and has_value(r.department):
            plain["department"] = minutes.handover_unit(community, r.department)
            if plain["department"] is None:
                msg = ("名录中没有该单位，请从职能部门或结对共建单位中选择", "Not a department or partner unit")
                errors.append(field_error(f"{field}.department", *msg))
        resolutions.append(
            events.Resolution(**plain, deadline=deadline_of(r.deadline), stances=stances, commitments=promises)
        )
    if errors:
        raise invalid(errors)
    return resolutions


async def _carry_out(uow, community, s, resolutions: list[events.Resolution], principal: Principal, now) -> list[str]:
    """Each resolution's consequence for its queued matter; the ids of follow-up site inspections."""
    follow_ups: list[str] = []
    for r in resolutions:
        qm = await uow.session.get(QueuedMatter, r.matter_id)
        if qm is None:  # pragma: no cover - agenda matters are always known
            continue
        if r.outcome in ("resolved", "escalate", "not_actionable"):
            qm.state, qm.pinned, qm.updated_at = "resolved", False, now
            uow.session.add(qm)
        elif r.outcome == "deferred":
            await service.requeue(uow, [qm.matter_id], carry=True)
        elif r.outcome == "refer_up":
            await tier_api.refer_up(uow, community, s, qm, actor=principal.sub, reason=r.reason or "", now=now)
        else:  # site_inspection
            site = await service.schedule_site_inspection(uow, community, qm, now)
            if site.id not in follow_ups:
                follow_ups.append(site.id)
    return follow_ups
