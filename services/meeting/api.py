"""Meeting's HTTP API: sessions, their agendas and the queue; concluding and cancelling sessions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import func, select

from services.contracts import labels
from services.meeting import planner, service, tier_api
from services.meeting.agenda_log import AgendaChangeOut, changes_of
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, aware, utc
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.directory import Community, load_directory
from services.runtime.export import (
    EXPORT_MAX,
    Keyword,
    Lang,
    Since,
    Until,
    like,
    place_words,
    within,
    xlsx_response,
)
from services.runtime.inputs import Moment
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.problems import Problem
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


class CancelIn(BaseModel):
    """Why a session is called off."""

    reason: str = Field(min_length=1, max_length=500)


# --- helpers ---------------------------------------------------------------------------------------


def _summary(s: MeetingSession, count: int) -> dict:
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


def session_not_found() -> Problem:
    """The answer for an unknown session id and for another community's session alike."""
    return Problem(404, "未找到该议事会", "Session not found")


async def _load_for_update(uow, session_id: str, principal: Principal) -> MeetingSession:
    s = await uow.session.get(MeetingSession, session_id)
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


def _tier_of(qm: QueuedMatter) -> dict:
    """The hall a queued matter waits for (小区议事会 or the community hall)."""
    community = load_directory().community(qm.community)
    hall = planner.hall_of(community, qm) if community is not None else "community"
    return {"hall": hall, "tier_label": tier_api.TIER_ZH["community" if hall == "community" else "compound"]}


# --- routes ----------------------------------------------------------------------------------------


def _session_conditions(principal, community, status, kind, from_, to, q, since, until) -> list:
    """The WHERE of the session list and its export (same filters, same scope)."""
    conds = [scope_filter(principal, MeetingSession.community, community)]
    if status:
        conds.append(MeetingSession.status == status)
    if kind:
        conds.append(MeetingSession.kind == kind)
    if from_ is not None:
        conds.append(MeetingSession.starts_at >= utc(from_))
    if to is not None:
        conds.append(MeetingSession.starts_at < utc(to))
    if q and q.strip():
        conds.append(MeetingSession.place.like(like(q), escape="\\"))
    conds += within(MeetingSession.starts_at, since, until, utc)
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
    query = (
        select(MeetingSession)
        .where(*conds)
        .order_by(MeetingSession.starts_at, MeetingSession.id)
        .offset(offset)
        .limit(limit)
    )
    async with ctx.db.session() as db:
        total = (await db.exec(select(func.count()).select_from(MeetingSession).where(*conds))).one()
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
    query = select(MeetingSession).where(*conds).order_by(MeetingSession.starts_at, MeetingSession.id).limit(EXPORT_MAX)
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
        s = await db.get(MeetingSession, session_id)
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
    ordered = service.in_agenda_order(rows, planner.utcnow())
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
        await service.requeue(uow, agenda, carry=False)
        await planner.emit_scheduled(uow, s, status="cancelled", agenda=agenda)
        await uow.commit()
    return SessionOut(**_summary(s, len(agenda)))
