"""The ledger's HTTP API: entries with their timelines, the actions that move them, headline figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import func, or_, select

from services.contracts import events, labels
from services.contracts.measures import measures_en
from services.contracts.media import Photo
from services.contracts.vocabulary import Category, Level
from services.ledger import alerts, commitments, handover, notes, routing, service
from services.ledger.alerts import alert_id
from services.ledger.commitments_api import CommitmentOut
from services.ledger.config import deadline_policy
from services.ledger.domain import (
    STATE_LABELS_ZH,
    STATES,
    IllegalTransition,
    allowed_actions,
    deadline_status,
    transition,
)
from services.ledger.models import Alert, Entry, TimelineItem, notices
from services.ledger.oncall import TIER_ZH, TIERS
from services.ledger.supporting_api import SupportingTaskOut, entry_in_scope
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.directory import load_directory
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
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger"])

UpdateAction = Literal["claim", "start", "progress", "escalate", "return", "complete"]
API_ACTIONS = ("claim", "start", "progress", "escalate", "return", "complete", "close")
NOTE_REQUIRED = frozenset({"progress", "escalate", "complete"})
DEFAULT_NOTES = {"claim": notes.CLAIMED, "start": notes.STARTED, "return": notes.RETURNED, "close": notes.CLOSED}
EMITS = {
    "claim": "entry.progressed.v1",
    "start": "entry.progressed.v1",
    "progress": "entry.progressed.v1",
    "return": "entry.progressed.v1",
    "escalate": "entry.escalated.v1",
    "complete": "entry.completed.v1",
}
FIRST_ACTIONS = frozenset({"claim", "start", "progress", "escalate", "complete"})  # a response to a red matter


class TimelineOut(BaseModel):
    """One change of an entry."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    note_en: str | None = Field(None, description="The note in English words; a staff member's own note as typed")
    photos: list[str]


class EntryOut(BaseModel):
    """A ledger entry as staff see it."""

    id: str
    matter_id: str
    community: str
    compound: str | None
    building: str | None
    category: str
    level: str
    route: str
    title: str
    state: str
    state_label: str
    measures: str | None
    measures_en: str | None = Field(None, description="The measures in English; a session's own words quoted")
    lead_party: str | None
    lead_unit: str | None
    supporting_units: list[str]
    deadline: dt.datetime | None
    round: int
    households: int
    satisfied: bool
    overdue: bool
    escalated_to: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    closed_at: dt.datetime | None
    first_action_due: dt.datetime | None = Field(None, description="Red: when the first response is due")
    first_action_at: dt.datetime | None = Field(None, description="Red: when the lead unit first responded")
    supervised: bool = Field(False, description="督办: the party organisation leads after two unsatisfied rounds")
    merged_into: str | None = Field(None, description="Merged (合并): the matter that carries the work on")


class PageOut(BaseModel):
    """One page (呼叫) or reminder sent about an entry, as staff see it."""

    kind: str
    kind_label: str
    to: str
    channel: str
    status: str
    status_label: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class AlertOut(BaseModel):
    """The red alert of an entry's round: who was paged, whether someone acknowledged."""

    status: str
    status_label: str
    status_label_en: str
    tier: int
    tier_label: str
    tier_label_en: str
    pages: int
    opened_at: dt.datetime
    next_page_at: dt.datetime | None
    acked_at: dt.datetime | None
    acked_by: str | None


class EntryDetail(EntryOut):
    """An entry with its timeline and what may be done next."""

    timeline: list[TimelineOut]
    allowed_actions: list[str] = Field(description="Every action the state machine allows now")
    available_actions: list[str] = Field(description="The allowed actions this API accepts")
    deadline_status: str | None = Field(description="done, overdue, warning or on_track; null without deadline")
    supporting_tasks: list[SupportingTaskOut] = Field(default_factory=list, description="配合单位 and their parts")
    alert: AlertOut | None = Field(None, description="Red: the alert of the current round")
    notices: list[PageOut] = Field(default_factory=list, description="Pages and reminders sent to people")
    commitments: list[CommitmentOut] = Field(
        default_factory=list, description="Promises made at sessions (承诺事项), each checked before 销号"
    )


class ActionIn(BaseModel):
    """What accompanies an action: a note (required for progress, escalate, complete), photos, department."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    department: str | None = Field(None, max_length=128, description="For escalate: the functional department")
    photos: list[Photo] = Field(default_factory=list, max_length=9, description="http(s) URLs or upload paths")


def _out(e: Entry) -> dict:
    return {
        **{k: getattr(e, k) for k in EntryOut.model_fields if k not in ("state_label", "measures_en")},
        "state_label": STATE_LABELS_ZH.get(e.state, e.state),
        "measures_en": (measures_en(e.measures) or f"“{e.measures}”") if e.measures else None,
    }


def _entry_conditions(principal, community, state, level, category, overdue, q, since, until, matter_id=None) -> list:
    """The WHERE of the ledger list and its export (same filters, same scope)."""
    cond = [scope_filter(principal, Entry.community, community)]
    if matter_id:
        cond.append(Entry.matter_id == matter_id)
    if state:
        cond.append(Entry.state == state)
    if level:
        cond.append(Entry.level == level)
    if category:
        cond.append(Entry.category == category)
    if overdue is not None:
        cond.append(Entry.overdue == overdue)
    if q and q.strip():
        pattern = like(q)
        cond.append(
            or_(
                Entry.title.like(pattern, escape="\\"),
                Entry.measures.like(pattern, escape="\\"),
                Entry.lead_unit.like(pattern, escape="\\"),
            )
        )
    cond += within(Entry.created_at, since, until)
    return cond


@router.get("/entries", response_model=Page[EntryOut], summary="List ledger entries (台账列表)")
async def list_entries(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    community: str | None = Query(None, max_length=64),
    state: Literal[STATES] | None = None,  # type: ignore[valid-type]
    level: Level | None = None,
    category: Category | None = None,
    overdue: bool | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    matter_id: str | None = Query(None, max_length=64, description="The entry of one matter"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EntryOut]:
    """Entries of the communities the caller may see, most recently changed first (q: title, measures, unit)."""
    cond = _entry_conditions(principal, community, state, level, category, overdue, q, since, until, matter_id)
    query = select(Entry).where(*cond).order_by(Entry.updated_at.desc(), Entry.id).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(Entry).where(*cond))).one()
        rows = (await s.exec(query)).all()
    return Page[EntryOut](items=[EntryOut(**_out(e)) for e in rows], total=total, limit=limit, offset=offset)


ENTRY_HEADERS = {
    "zh": ["事项", "社区及地点", "类别", "等级", "办理方式", "台账状态", "是否超期", "处置措施", "牵头方", "责任单位",
           "办结时限", "登记时间", "办结时间", "涉及户数"],
    "en": ["Matter", "Place", "Category", "Level", "Route", "State", "Overdue", "Measures", "Lead party",
           "Responsible unit", "Deadline", "Registered", "Completed", "Households"],
}  # fmt: skip


@router.get("/entries.xlsx", summary="Export ledger entries (台账导出, XLSX)")
async def export_entries(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    community: str | None = Query(None, max_length=64),
    state: Literal[STATES] | None = None,  # type: ignore[valid-type]
    level: Level | None = None,
    category: Category | None = None,
    overdue: bool | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same entries as the list (same filters), every value in words, at most EXPORT_MAX rows."""
    cond = _entry_conditions(principal, community, state, level, category, overdue, q, since, until)
    query = select(Entry).where(*cond).order_by(Entry.updated_at.desc(), Entry.id).limit(EXPORT_MAX)
    async with ctx.db.session() as s:
        rows = (await s.exec(query)).all()
    word = labels.zh if lang == "zh" else labels.en
    yes_no = (word("filter", "yes"), word("filter", "no"))
    body = [
        [
            e.title,
            place_words(e.community, e.compound, e.building),
            word("category", e.category),
            word("level", e.level),
            word("route", e.route),
            word("ledger_state", e.state),
            yes_no[0] if e.overdue else yes_no[1],
            e.measures or "",
            word("responsible_party", e.lead_party) if e.lead_party else "",
            e.lead_unit or "",
            e.deadline,
            e.created_at,
            e.completed_at,
            e.households,
        ]
        for e in rows
    ]
    title = "台账" if lang == "zh" else "Ledger"
    return xlsx_response(title, ENTRY_HEADERS[lang], body, f"{title}.xlsx")


NOTICE_KIND_ZH = labels.zh_map("notice_kind")
NOTICE_STATUS_ZH = labels.zh_map("notice_status")


async def _alert_of(s, e: Entry) -> AlertOut | None:
    a = await s.get(Alert, alert_id(e.id, e.round))
    if a is None:
        return None
    return AlertOut(
        status=a.status,
        status_label=alerts.ALERT_STATUS_ZH.get(a.status, a.status),
        status_label_en=alerts.ALERT_STATUS_EN.get(a.status, "—"),
        tier=a.tier,
        tier_label=TIER_ZH[TIERS[a.tier]],
        tier_label_en=notes.TIER_EN[TIERS[a.tier]],
        pages=a.pages,
        opened_at=a.opened_at,
        next_page_at=a.next_page_at,
        acked_at=a.acked_at,
        acked_by=a.acked_by,
    )


async def _detail(s, e: Entry) -> EntryDetail:
    items = (await s.exec(select(TimelineItem).where(TimelineItem.entry_id == e.id).order_by(TimelineItem.seq))).all()
    allowed = allowed_actions(e.state)
    tasks = [SupportingTaskOut.of(t) for t in await service.supporting_of(s, e.id)]
    sent = [
        PageOut(
            kind=n["kind"],
            kind_label=NOTICE_KIND_ZH.get(n["kind"], "通知"),
            to=n["recipient"].get("name") or "",
            channel=n["channel"],
            status=n["status"],
            status_label=NOTICE_STATUS_ZH.get(n["status"], n["status"]),
            created_at=n["created_at"],
            sent_at=n["sent_at"],
        )
        for n in await notices.of(s, e.id)
    ]
    now = service.utcnow()
    promises = [CommitmentOut.of(c, now) for c in await commitments.of_entry(s, e.id)]
    return EntryDetail(
        commitments=promises,
        alert=await _alert_of(s, e),
        notices=sent[-100:],
        **_out(e),
        timeline=[
            TimelineOut(**t.model_dump(include=set(TimelineOut.model_fields)), note_en=notes.english(t.action, t.note))
            for t in items
        ],
        allowed_actions=allowed,
        available_actions=[a for a in API_ACTIONS if a in allowed],
        deadline_status=deadline_status(e.deadline, service.utcnow(), e.state, deadline_policy())
        if e.deadline
        else None,
        supporting_tasks=tasks,
    )


@router.get("/entries/{entry_id}", response_model=EntryDetail, summary="One entry with its timeline (台账详情)")
async def get_entry(
    entry_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("ledger.read"))]
) -> EntryDetail:
    """An entry, its timeline, the allowed actions and its deadline status."""
    async with ctx.db.session() as s:
        e = await s.get(Entry, entry_id)
        if e is None:
            raise Problem(404, "未找到该台账", "Entry not found")
        in_scope(principal, e.community)
        return await _detail(s, e)


async def _act(ctx, principal: Principal, entry_id: str, action: str, body: ActionIn) -> EntryDetail:
    if action in NOTE_REQUIRED and not (body.note and body.note.strip()):
        raise Problem(422, "此操作须填写说明", f"A note is required for {action}", field="note")
    if action == "escalate" and not (body.department and body.department.strip()):
        raise Problem(422, "转办须填写职能部门", "A department is required for escalate", field="department")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = uow.session
        e = await entry_in_scope(s, principal, entry_id, lock=True)
        _department_may(principal, e, action)
        try:
            transition(e.state, action)
        except IllegalTransition as exc:
            zh, _, en = str(exc).partition(" / ")
            raise Problem(409, zh, en or zh, extra={"state": e.state, "allowed": exc.allowed}) from None
        if action == "close":
            await commitments.refuse_close_with_open(s, e)
        now = service.utcnow()
        note = (body.note or "").strip() or DEFAULT_NOTES.get(action)
        if action in FIRST_ACTIONS:
            alerts.first_action(e, now)
            alert = await alerts.open_alert_of(s, e)
            if alert is not None:
                await alerts.acknowledge(s, e, alert, by=principal.sub, via="action", now=now)
        if action == "start" and e.state == "assigned":
            note = (body.note or "").strip() or notes.CLAIMED_AND_STARTED  # starting unclaimed work claims it too
        if action == "claim" or (action == "start" and e.state == "assigned"):
            if principal.role in service.RESPONSIBLE_PARTIES:
                e.lead_party = principal.role
            e.lead_unit = principal.unit or e.lead_unit
        elif action == "progress" and principal.role == "department":
            note = notes.department_progress(principal.unit, note)
        elif action == "escalate":
            e.escalated_to = _handover_unit(e.community, body.department or "")
            note = notes.handed_over_by(e.escalated_to, note)
        elif action == "complete":
            e.completed_at = now
        elif action == "close":
            e.closed_at = now
        service.apply(s, e, action, actor=principal.sub, note=note, photos=body.photos)
        if action == "close":
            await uow.emit(
                "matter.closed.v1",
                community=e.community,
                subject=e.matter_id,
                data=events.MatterClosed(matter_id=e.matter_id, entry_id=e.id, by=principal.sub, closed_at=now),
            )
        else:
            await service.emit_entry(uow, EMITS[action], e, actor=principal.sub, note=note)
        if action == "escalate":
            await handover.notify_unit(uow, e, e.escalated_to, kind="handover", note=note, now=now)
        await s.flush()
        detail = await _detail(s, e)
        await uow.commit()
    return detail


def _handover_unit(community: str, key: str) -> str:
    """The directory unit a matter is handed over to (a department by code or name, or a partner unit), else 422."""
    found = load_directory().community(community)
    unit = routing.handover_unit(found, key) if found is not None else None
    if unit is None:
        raise Problem(
            422,
            "名录中没有该单位，请从名录的职能部门或结对共建单位中选择",
            "Not a unit of the directory: pick a department or a partner unit",
            field="department",
        )
    return unit[1][:128]


DEPARTMENT_ACTIONS = frozenset({"progress", "return"})


def _department_may(principal: Principal, e: Entry, action: str) -> None:
    """A department acts only on entries escalated to its own unit, and only reports progress or returns them."""
    if principal.role != "department":
        return
    if e.state != "escalated" or not principal.unit or e.escalated_to != principal.unit:
        raise Problem(
            403,
            "职能部门只能办理转办给本单位的台账",
            "A department may act only on entries escalated to its own unit",
            extra={"escalated_to": e.escalated_to},
        )
    if action not in DEPARTMENT_ACTIONS:
        raise Problem(
            403,
            f"职能部门不能执行「{action}」，请填写进展或退回核验",
            f"A department may only report progress or return the entry, not {action}",
            extra={"allowed": sorted(DEPARTMENT_ACTIONS)},
        )


@router.post(
    "/entries/{entry_id}/actions/close", response_model=EntryDetail, summary="Cross off an evaluated entry (销号)"
)
async def close_entry(
    entry_id: str,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.close"))],
    body: ActionIn | None = None,
) -> EntryDetail:
    """Close (销号) an entry; only an evaluated entry can be closed."""
    return await _act(ctx, principal, entry_id, "close", body or ActionIn())


@router.post("/entries/{entry_id}/actions/{action}", response_model=EntryDetail, summary="Act on an entry (办理)")
async def act_on_entry(
    entry_id: str,
    action: UpdateAction,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.update"))],
    body: ActionIn | None = None,
) -> EntryDetail:
    """Claim, start, report progress, escalate, take back or complete an entry."""
    return await _act(ctx, principal, entry_id, action, body or ActionIn())


@router.post(
    "/entries/{entry_id}/ack", response_model=EntryDetail, summary="Acknowledge a red alert (确认接警) from the console"
)
async def ack_entry(
    entry_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("ledger.update"))]
) -> EntryDetail:
    """Stop the paging of the entry's red alert: someone has it (idempotent; 409 when there is no alert)."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = uow.session
        e = await entry_in_scope(s, principal, entry_id, lock=True)
        alert = await s.get(Alert, alert_id(e.id, e.round))
        if alert is None:
            raise Problem(409, "该台账没有红色警报", "This entry has no red alert")
        await alerts.acknowledge(s, e, alert, by=principal.sub, via="console", now=service.utcnow())
        await s.flush()
        detail = await _detail(s, e)
        await uow.commit()
    return detail
