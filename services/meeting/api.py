"""Meeting's HTTP API: sessions, their agendas and the queue; concluding and cancelling sessions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import func, select

from services.contracts import events, labels
from services.contracts.vocabulary import Outcome, Party, ResponsibleParty
from services.meeting import domain, minutes, planner, tier_api
from services.meeting.agenda_log import AgendaChangeOut, changes_of
from services.meeting.models import AgendaItem, QueuedMatter, Session, aware, utc
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.directory import Community, load_directory
from services.runtime.export import (
    EXPORT_MAX,
    Keyword,
    Lang,
    Since,
    Until,
    day_bounds,
    like,
    place_words,
    xlsx_response,
)
from services.runtime.inputs import Moment
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.problems import Problem, field_error
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["meeting"])

STATUS_ZH = labels.zh_map("session_status")
KIND_ZH = labels.zh_map("session_kind")
LEVEL_ZH = labels.zh_map("level")
STATE_ZH = labels.zh_map("queue_state")

Name = Annotated[str, Field(min_length=1, max_length=64)]
Unit = Annotated[str, Field(min_length=1, max_length=128)]

# --- response models -------------------------------------------------------------------------------


class SessionOut(BaseModel):
    """A session as listed."""

    id: str
    community: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    starts_at: dt.datetime
    place: str
    compound: str | None
    capacity: int
    agenda_count: int
    concluded_at: dt.datetime | None
    hall: str = Field("community", description="`community`, or the compound whose own meeting it is (小区议事会)")
    tier_label: str = Field("社区议事厅", description="社区议事厅 or 小区议事会")


class AgendaEntry(BaseModel):
    """One matter on an agenda."""

    position: int
    matter_id: str
    title: str | None
    level: str | None
    level_label: str | None
    category: str | None
    compound: str | None
    households: int | None
    carried_over: int | None
    state: str | None
    pinned: bool = Field(False, description="本月议题: the convenor made it a topic")
    added_by: str | None = Field(None, description="Who put it on: `planner` (automatic proposal) or a staff member")


class SessionDetail(SessionOut):
    """A session with its agenda (and how it was set), invitees, attendance and minutes."""

    agenda: list[AgendaEntry]
    invitees: list[dict]
    attendance: dict
    minutes: dict
    created_at: dt.datetime
    agenda_set_by: str | None = Field(None, description="Who set the agenda; null while the planner proposes it")
    agenda_set_at: dt.datetime | None = None
    agenda_changes: list[AgendaChangeOut] = Field(default_factory=list, description="Every agenda change, oldest first")


class QueuedOut(BaseModel):
    """A matter waiting for a session, in the order the agenda rule would take it."""

    rank: int
    matter_id: str
    community: str
    compound: str | None
    title: str
    category: str
    level: str
    level_label: str
    households: int
    queued_at: dt.datetime
    carried_over: int
    round: int
    pinned: bool = False
    hall: str = Field("community", description="The hall that will deliberate it: `community` or a compound's code")
    tier_label: str = "社区议事厅"


# --- request models --------------------------------------------------------------------------------


class ResolutionIn(BaseModel):
    """The session's decision on one agenda matter."""

    matter_id: str = Field(min_length=1, max_length=64)
    outcome: Outcome
    measures: str | None = Field(None, max_length=2000)
    lead_party: ResponsibleParty | None = None
    lead_unit: str | None = Field(None, max_length=128)
    supporting_units: list[Unit] = Field(default_factory=list, max_length=20)
    deadline: Moment | None = None
    department: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=1000)
    positions: dict[ResponsibleParty, Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=dict, max_length=12
    )
    stances: list[minutes.StanceIn] = Field(default_factory=list, max_length=50)
    commitments: list[minutes.CommitmentIn] = Field(default_factory=list, max_length=20)


class ConcludeIn(BaseModel):
    """Who attended (the five parties, invited departments, parties concerned) and what was decided."""

    attendance: dict[Party, Annotated[list[Name], Field(max_length=50)]] = Field(default_factory=dict)
    departments: list[minutes.DepartmentIn] = Field(default_factory=list, max_length=20)
    concerned: list[minutes.ConcernedIn] = Field(default_factory=list, max_length=20)
    resolutions: list[ResolutionIn] = Field(default_factory=list, max_length=200)
    notes: str | None = Field(None, max_length=5000)


class CancelIn(BaseModel):
    """Why a session is called off."""

    reason: str = Field(min_length=1, max_length=500)


class ConcludeOut(BaseModel):
    """The result of concluding: concluded, or adjourned without quorum."""

    session_id: str
    status: Literal["concluded", "adjourned"]
    status_label: str
    missing_parties: list[str] = Field(default_factory=list)
    follow_up_sessions: list[str] = Field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------------


def _summary(s: Session, count: int) -> dict:
    return {
        "id": s.id,
        "community": s.community,
        "kind": s.kind,
        "kind_label": KIND_ZH.get(s.kind, s.kind),
        "status": s.status,
        "status_label": STATUS_ZH.get(s.status, s.status),
        "starts_at": aware(s.starts_at),
        "place": s.place,
        "compound": s.compound,
        "capacity": s.capacity,
        "agenda_count": count,
        "concluded_at": aware(s.concluded_at),
        "hall": s.hall,
        "tier_label": tier_api.TIER_ZH["community" if s.hall == "community" else "compound"],
    }


def _community(code: str) -> Community:
    community = load_directory().community(code)
    if community is None:  # pragma: no cover - rows only exist for known communities
        raise Problem(409, f"社区「{code}」不在名录中", f"Community {code!r} is not in the directory")
    return community


def _has(value: str | None) -> bool:
    return value is not None and bool(value.strip())


def _check_resolution(i: int, r: ResolutionIn) -> list[dict]:
    """Field errors of one resolution (which fields its outcome needs)."""
    needs: list[tuple[str, bool, str, str]] = []
    if r.outcome == "resolved":
        needs += [
            ("measures", _has(r.measures), "议定「解决」须写明具体举措", "outcome resolved needs measures"),
            ("lead_party", r.lead_party is not None, "须指定牵头方", "outcome resolved needs lead_party"),
            ("lead_unit", _has(r.lead_unit), "须指定责任单位", "outcome resolved needs lead_unit"),
            ("deadline", r.deadline is not None, "须写明办结时限", "outcome resolved needs a deadline"),
        ]
    elif r.outcome in ("deferred", "not_actionable", "refer_up"):
        needs.append(("reason", _has(r.reason), "须说明理由", f"outcome {r.outcome} needs a reason"))
    elif r.outcome == "escalate":
        needs.append(("department", _has(r.department), "转办须指定职能部门", "outcome escalate needs department"))
    return [field_error(f"resolutions[{i}].{f}", zh, en) for f, ok, zh, en in needs if not ok]


def _deadline(value: dt.datetime | None) -> dt.datetime | None:
    """A deadline without a zone is local time in the community (Asia/Shanghai)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=domain.TZ)).astimezone(dt.UTC)


def _invalid(errors: list[dict]) -> Problem:
    first = errors[0]
    return Problem(
        422,
        f"{first['field']}：{first['message']}",
        f"{first['field']}: {first['message_en']}",
        errors=errors,
    )


def session_not_found() -> Problem:
    """The answer for an unknown session id and for another community's session alike."""
    return Problem(404, "未找到该议事会", "Session not found")


def _present(departments: list[events.DepartmentPresent], concerned: list[events.ConcernedPresent]) -> dict:
    """Who else sat at the table, for the minutes."""
    return {
        "departments": [d.model_dump(mode="json") for d in departments],
        "concerned": [c.model_dump(mode="json") for c in concerned],
    }


async def _load_for_update(uow, session_id: str, principal: Principal) -> Session:
    s = await uow.session.get(Session, session_id)
    if s is None:
        raise session_not_found()
    in_scope(principal, s.community, session_not_found())
    s = await planner.lock_session(uow, session_id)
    if s.status != "scheduled":
        label = STATUS_ZH.get(s.status, s.status)
        raise Problem(
            409,
            f"议事会当前状态为「{label}」，不能再操作",
            f"Session is {s.status}, not scheduled",
            extra={"state": s.status},
        )
    return s


async def _requeue(uow, matter_ids: list[str], *, carry: bool) -> None:
    for mid in matter_ids:
        qm = await uow.session.get(QueuedMatter, mid)
        if qm is None:
            continue
        qm.state, qm.session_id, qm.updated_at = "queued", None, planner.utcnow()
        if carry:
            qm.carried_over += 1
        uow.session.add(qm)


def _tier_of(qm: QueuedMatter) -> dict:
    """The hall a queued matter waits for (小区议事会 or the community hall)."""
    community = load_directory().community(qm.community)
    hall = planner.hall_of(community, qm) if community is not None else "community"
    return {"hall": hall, "tier_label": tier_api.TIER_ZH["community" if hall == "community" else "compound"]}


# --- routes ----------------------------------------------------------------------------------------


def _session_conditions(principal, community, status, kind, from_, to, q, since, until) -> list:
    """The WHERE of the session list and its export (same filters, same scope)."""
    conds = [scope_filter(principal, Session.community, community)]
    if status:
        conds.append(Session.status == status)
    if kind:
        conds.append(Session.kind == kind)
    if from_ is not None:
        conds.append(Session.starts_at >= utc(from_))
    if to is not None:
        conds.append(Session.starts_at < utc(to))
    if q and q.strip():
        conds.append(Session.place.like(like(q), escape="\\"))
    start, end = day_bounds(since, until)
    if start:
        conds.append(Session.starts_at >= utc(start))
    if end:
        conds.append(Session.starts_at < utc(end))
    return conds


@router.get("/sessions", response_model=Page[SessionOut], summary="List sessions (议事会列表)")
async def list_sessions(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["scheduled", "concluded", "adjourned", "cancelled"] | None = None,
    kind: Literal["emergency", "fixed_day", "site_inspection"] | None = None,
    from_: Moment | None = Query(None, alias="from"),
    to: Moment | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SessionOut]:
    """Sessions of the communities the caller may see, by start time (q: the place; since/until: Beijing days)."""
    conds = _session_conditions(principal, community, status, kind, from_, to, q, since, until)
    query = select(Session).where(*conds).order_by(Session.starts_at, Session.id).offset(offset).limit(limit)
    async with ctx.db.session() as db:
        total = (await db.exec(select(func.count()).select_from(Session).where(*conds))).one()
        rows = (await db.exec(query)).all()
        ids = [s.id for s in rows]
        items = (await db.exec(select(AgendaItem.session_id).where(AgendaItem.session_id.in_(ids)))).all()
    counts: dict[str, int] = {}
    for sid in items:
        counts[sid] = counts.get(sid, 0) + 1
    items = [SessionOut(**_summary(s, counts.get(s.id, 0))) for s in rows]
    return Page[SessionOut](items=items, total=total, limit=limit, offset=offset)


SESSION_HEADERS = {
    "zh": ["时间", "类型", "社区", "地点", "议题数", "状态"],
    "en": ["Time", "Kind", "Community", "Place", "Topics", "Status"],
}


@router.get("/sessions.xlsx", summary="Export sessions (议事会导出, XLSX)")
async def export_sessions(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["scheduled", "concluded", "adjourned", "cancelled"] | None = None,
    kind: Literal["emergency", "fixed_day", "site_inspection"] | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same sessions as the list, in words."""
    conds = _session_conditions(principal, community, status, kind, None, None, q, since, until)
    query = select(Session).where(*conds).order_by(Session.starts_at, Session.id).limit(EXPORT_MAX)
    async with ctx.db.session() as db:
        rows = (await db.exec(query)).all()
        ids = [s.id for s in rows]
        agenda = (await db.exec(select(AgendaItem.session_id).where(AgendaItem.session_id.in_(ids)))).all()
    counts: dict[str, int] = {}
    for sid in agenda:
        counts[sid] = counts.get(sid, 0) + 1
    word = labels.zh if lang == "zh" else labels.en
    body = [
        [
            s.starts_at,
            word("session_kind", s.kind),
            place_words(s.community),
            s.place,
            counts.get(s.id, 0),
            word("session_status", s.status),
        ]
        for s in rows
    ]
    title = "议事会" if lang == "zh" else "Sessions"
    return xlsx_response(title, SESSION_HEADERS[lang], body, f"{title}.xlsx")


@router.get("/sessions/{session_id}", response_model=SessionDetail, summary="One session (议事会详情)")
async def get_session(
    session_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("session.read"))]
) -> SessionDetail:
    """A session with its agenda (titles and levels), invitees, attendance and minutes."""
    async with ctx.db.session() as db:
        s = await db.get(Session, session_id)
        if s is None:
            raise session_not_found()
        in_scope(principal, s.community, session_not_found())
        q = (
            select(AgendaItem, QueuedMatter)
            .join(QueuedMatter, QueuedMatter.matter_id == AgendaItem.matter_id, isouter=True)
            .where(AgendaItem.session_id == s.id)
            .order_by(AgendaItem.position)
        )
        rows = (await db.exec(q)).all()
    agenda = [
        AgendaEntry(
            position=item.position,
            matter_id=item.matter_id,
            title=qm.title if qm else None,
            level=qm.level if qm else None,
            level_label=LEVEL_ZH.get(qm.level) if qm else None,
            category=qm.category if qm else None,
            compound=qm.compound if qm else None,
            households=qm.households if qm else None,
            carried_over=qm.carried_over if qm else None,
            state=qm.state if qm else None,
            pinned=bool(qm and qm.pinned),
            added_by=item.added_by,
        )
        for item, qm in rows
    ]
    async with ctx.db.session() as db:
        history = await changes_of(db, s.id)
    return SessionDetail(
        **_summary(s, len(agenda)),
        agenda=agenda,
        invitees=s.invitees,
        attendance=s.attendance,
        minutes=s.minutes,
        created_at=aware(s.created_at),
        agenda_set_by=s.agenda_set_by,
        agenda_set_at=aware(s.agenda_set_at),
        agenda_changes=history,
    )


@router.get("/queue", response_model=Page[QueuedOut], summary="Matters waiting for a session (待议事项)")
async def get_queue(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.read"))],
    community: str | None = Query(None, max_length=64),
    limit: Limit = 200,
    offset: Offset = 0,
) -> Page[QueuedOut]:
    """Queued matters in the order the fixed-day agenda rule takes them (red first, ageing applied)."""
    q = select(QueuedMatter).where(
        scope_filter(principal, QueuedMatter.community, community), QueuedMatter.state == "queued"
    )
    async with ctx.db.session() as db:
        rows = list((await db.exec(q)).all())
    ordered = planner.in_agenda_order(rows, planner.utcnow())
    out = [
        QueuedOut(
            rank=i + 1,
            matter_id=r.matter_id,
            community=r.community,
            compound=r.compound,
            title=r.title,
            category=r.category,
            level=r.level,
            level_label=LEVEL_ZH.get(r.level, r.level),
            households=r.households,
            queued_at=aware(r.queued_at),
            carried_over=r.carried_over,
            round=r.round,
            pinned=r.pinned,
            **_tier_of(r),
        )
        for i, r in enumerate(ordered)
    ]
    return window(out, limit, offset)


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
        on_agenda = set(agenda)
        errors: list[dict] = []
        seen: set[str] = set()
        for i, r in enumerate(body.resolutions):
            if r.matter_id not in on_agenda:
                errors.append(
                    field_error(f"resolutions[{i}].matter_id", "该事项不在本次议程中", "Matter is not on the agenda")
                )
            elif r.matter_id in seen:
                errors.append(
                    field_error(f"resolutions[{i}].matter_id", "同一事项只能有一项决议", "Duplicate resolution")
                )
            seen.add(r.matter_id)
            errors += _check_resolution(i, r)
        attendance = domain.clean_attendance(body.attendance)
        departments, more = minutes.departments_present(community, body.departments)
        errors += more
        concerned, more = minutes.concerned_present(body.concerned)
        errors += more
        if errors:
            raise _invalid(errors)
        errors += tier_api.refer_errors(s, body.resolutions)
        if errors:
            raise _invalid(errors)
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
                **_present(departments, concerned),
            }
            uow.session.add(s)
            await _requeue(uow, agenda, carry=True)
            await uow.commit()
            return ConcludeOut(
                session_id=s.id, status="adjourned", status_label=STATUS_ZH["adjourned"], missing_parties=missing
            )
        unresolved = [m for m in agenda if m not in seen]
        if unresolved:
            # Named by their titles: a person never reads a matter id.
            titles = [(await uow.session.get(QueuedMatter, m)) for m in unresolved[:10]]
            names = "、".join(f"「{q.title}」" if q else "（未知议题）" for q in titles)
            raise _invalid(
                [
                    field_error(
                        "resolutions",
                        f"议程事项缺少决议：{names}",
                        f"Every agenda matter needs a resolution; missing: {names}",
                    )
                ]
            )
        resolutions: list[events.Resolution] = []
        for i, r in enumerate(body.resolutions):
            field = f"resolutions[{i}]"
            stances, more = minutes.stances_of(field, r.stances, attendance, departments, concerned)
            errors += more
            promises, more = minutes.commitments_of(field, s.id, r.matter_id, r.outcome, r.commitments, now)
            errors += more
            plain = r.model_dump(exclude={"deadline", "stances", "commitments"})
            if r.outcome == "escalate" and _has(r.department):
                plain["department"] = minutes.handover_unit(community, r.department)
                if plain["department"] is None:
                    msg = ("名录中没有该单位，请从职能部门或结对共建单位中选择", "Not a department or partner unit")
                    errors.append(field_error(f"{field}.department", *msg))
            resolutions.append(
                events.Resolution(**plain, deadline=_deadline(r.deadline), stances=stances, commitments=promises)
            )
        if errors:
            raise _invalid(errors)
        s.status = "concluded"
        s.minutes = {
            "notes": body.notes,
            "resolutions": [r.model_dump(mode="json") for r in resolutions],
            **_present(departments, concerned),
        }
        uow.session.add(s)
        if s.kind == "fixed_day":
            # Before the deferred ones rejoin the queue: they get their own single step below.
            await planner.carry_over(uow, s)
        follow_ups: list[str] = []
        for r in resolutions:
            qm = await uow.session.get(QueuedMatter, r.matter_id)
            if qm is None:  # pragma: no cover - agenda matters are always known
                continue
            if r.outcome in ("resolved", "escalate", "not_actionable"):
                qm.state, qm.pinned, qm.updated_at = "resolved", False, now
                uow.session.add(qm)
            elif r.outcome == "deferred":
                await _requeue(uow, [qm.matter_id], carry=True)
            elif r.outcome == "refer_up":
                await tier_api.refer_up(uow, community, s, qm, actor=principal.sub, reason=r.reason or "", now=now)
            else:  # site_inspection
                site = await planner.schedule_site_inspection(uow, community, qm, now)
                if site.id not in follow_ups:
                    follow_ups.append(site.id)
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


@router.post("/sessions/{session_id}/cancel", response_model=SessionOut, summary="Cancel a session (取消议事会)")
async def cancel_session(
    session_id: str,
    body: CancelIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> SessionOut:
    """Call off a scheduled session; its agenda returns to the queue."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = await _load_for_update(uow, session_id, principal)
        agenda = await planner.agenda_ids(uow, s.id)
        s.status, s.concluded_at, s.sequence = "cancelled", planner.utcnow(), s.sequence + 1
        s.minutes = {"cancelled_by": principal.sub, "reason": body.reason.strip()}
        uow.session.add(s)
        await _requeue(uow, agenda, carry=False)
        await planner.emit_scheduled(uow, s, status="cancelled", agenda=agenda)
        await uow.commit()
    return SessionOut(**_summary(s, len(agenda)))
