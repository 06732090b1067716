"""HTTP routes of supporting: parse, call supporting, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from services.contracts.media import Photo
from services.ledger import audit, notes, service
from services.ledger.domain import DONE_STATES
from services.ledger.models import Entry, SupportingTask
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.inputs import Moment
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger"])


SUPPORT_LABELS_ZH = {"assigned": "待认领", "claimed": "已认领", "in_progress": "配合办理中", "completed": "已完成"}
SUPPORT_LABELS_EN = {"assigned": "To claim", "claimed": "Claimed", "in_progress": "In progress", "completed": "Done"}


# state -> action -> next state
SUPPORT_TRANSITIONS: dict[str, dict[str, str]] = {
    "assigned": {"claim": "claimed"},
    "claimed": {"progress": "in_progress", "complete": "completed"},
    "in_progress": {"progress": "in_progress", "complete": "completed"},
    "completed": {},
}


SupportAction = Literal["claim", "progress", "complete"]


ACTION_ZH = {"claim": "认领", "progress": "进展", "complete": "完成"}


MAX_TASKS = 20


MAX_NOTES = 200


class ProgressNote(BaseModel):
    """Who reported what, when, with photos (URLs)."""

    at: dt.datetime
    actor: str
    unit: str | None = None
    note: str
    photos: list[str] = Field(default_factory=list)


class SupportingTaskOut(BaseModel):
    """A supporting unit's task on an entry."""

    id: str
    entry_id: str
    unit: str
    party: str | None
    deadline: dt.datetime | None
    state: str
    state_label: str
    state_label_en: str
    overdue: bool
    progress: list[ProgressNote]
    completed_at: dt.datetime | None

    @classmethod
    def of(cls, t: SupportingTask) -> SupportingTaskOut:
        """The API view of a task."""
        return cls(
            id=t.id,
            entry_id=t.entry_id,
            unit=t.unit,
            party=t.party,
            deadline=t.deadline,
            state=t.state,
            state_label=SUPPORT_LABELS_ZH.get(t.state, t.state),
            state_label_en=SUPPORT_LABELS_EN.get(t.state, "—"),
            overdue=t.overdue,
            progress=[ProgressNote(**n) for n in t.progress],
            completed_at=t.completed_at,
        )


class SupportingTaskIn(BaseModel):
    """Add a supporting unit to an entry (party organisation)."""

    model_config = ConfigDict(extra="forbid")

    unit: str = Field(min_length=1, max_length=128)
    deadline: Moment | None = Field(None, description="Defaults to the entry's deadline")


class SupportActionIn(BaseModel):
    """A note (required for progress and complete) and up to 9 photo URLs."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    photos: list[Photo] = Field(default_factory=list, max_length=9, description="http(s) URLs or upload paths")


async def entry_in_scope(s, principal: Principal, entry_id: str, *, lock: bool = False) -> Entry:
    """The entry if the caller's communities include it (locked for an update when asked), else 404 / 403."""
    q = select(Entry).where(Entry.id == entry_id)
    e = (await s.exec(q.with_for_update() if lock else q)).first()
    if e is None:
        raise Problem(404, "未找到该台账", "Entry not found")
    in_scope(principal, e.community)
    return e


@router.get(
    "/entries/{entry_id}/supporting", response_model=Page[SupportingTaskOut], summary="Supporting units (配合单位)"
)
async def list_supporting(
    entry_id: str,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SupportingTaskOut]:
    """The supporting units of an entry with their deadlines and progress."""
    async with ctx.db.session() as s:
        e = await entry_in_scope(s, principal, entry_id)
        return window([SupportingTaskOut.of(t) for t in await service.supporting_of(s, e.id)], limit, offset)


@router.post(
    "/entries/{entry_id}/supporting",
    response_model=SupportingTaskOut,
    status_code=201,
    summary="Add a supporting unit (增加配合单位)",
)
async def add_supporting(
    entry_id: str,
    body: SupportingTaskIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.assign_support"))],
) -> SupportingTaskOut:
    """Add a supporting unit with its own deadline (the entry's by default)."""
    unit = body.unit.strip()
    if not unit:
        raise Problem(422, "请填写配合单位", "unit must not be blank", field="unit")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = uow.session
        e = await entry_in_scope(s, principal, entry_id, lock=True)
        if e.state in DONE_STATES:
            raise Problem(409, "台账已办结，不能再增加配合单位", "The entry is done; no supporting unit can be added")
        tasks = await service.supporting_of(s, e.id)
        if any(t.unit == unit for t in tasks):
            raise Problem(409, "该单位已是配合单位", "This unit already supports the entry", field="unit")
        if len(tasks) >= MAX_TASKS:
            raise Problem(422, f"配合单位最多 {MAX_TASKS} 个", f"At most {MAX_TASKS} supporting units", field="unit")
        e.supporting_units = [*e.supporting_units, unit]
        deadline = body.deadline
        if deadline is not None and deadline.tzinfo is None:
            raise Problem(422, "时限须带时区", "deadline must carry a timezone offset", field="deadline")
        service.sync_supporting(s, e, tasks, actor=principal.sub, deadline=deadline)
        task = next(t for t in await service.supporting_of(s, e.id) if t.unit == unit)
        service.note_only(s, e, notes.support_added(unit, task.deadline), actor=principal.sub, event_id=None)
        out = SupportingTaskOut.of(task)
        await uow.commit()
    return out


@router.post(
    "/entries/{entry_id}/supporting/{task_id}/{action}",
    response_model=SupportingTaskOut,
    summary="Claim, report progress on or complete a supporting task (认领、进展、完成)",
)
async def act_on_supporting(
    entry_id: str,
    task_id: str,
    action: SupportAction,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.update"))],
    body: SupportActionIn | None = None,
) -> SupportingTaskOut:
    """Only the supporting unit itself (or the party organisation) acts on its task."""
    body = body or SupportActionIn()
    note = (body.note or "").strip()
    if action != "claim" and not note:
        raise Problem(422, "此操作须填写说明", f"A note is required for {action}", field="note")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = uow.session
        e = await entry_in_scope(s, principal, entry_id, lock=True)
        task = await s.get(SupportingTask, task_id)
        if task is None or task.entry_id != e.id:
            raise Problem(404, "未找到该配合任务", "Supporting task not found")
        if principal.role != "party_org" and principal.unit != task.unit:
            raise Problem(
                403, "只有该配合单位本身可以办理此任务", "Only the supporting unit itself may act on its task"
            )
        nxt = SUPPORT_TRANSITIONS[task.state].get(action)
        if nxt is None:
            allowed = sorted(SUPPORT_TRANSITIONS[task.state])
            raise Problem(
                409,
                f"配合任务状态「{SUPPORT_LABELS_ZH[task.state]}」下不能「{ACTION_ZH[action]}」",
                f"Action {action!r} is not allowed in supporting task state {task.state!r}",
                extra={"state": task.state, "allowed": allowed},
            )
        if e.state in DONE_STATES or e.state == "reopened":
            raise Problem(409, "台账当前状态不接受配合进展", f"The entry is {e.state}; supporting work is not open")
        if len(task.progress) >= MAX_NOTES:
            raise Problem(422, "进展记录已达上限", "Too many progress notes on this task")
        now = service.utcnow()
        text = service.clean(note) or notes.CLAIMED
        if action == "claim" and task.party is None and principal.unit == task.unit:
            task.party = principal.role  # a unit the directory does not know says which party it is by claiming
        if action == "complete":
            task.completed_at = now
        task.state = nxt
        task.updated_at = now
        record = {"at": audit.iso(now), "actor": principal.sub, "unit": principal.unit, "note": text}
        task.progress = [*task.progress, {**record, "photos": list(body.photos)}]
        s.add(task)
        audit.stage(
            s, task, community=e.community, actor=principal.sub, action=f"support_{action}", entry_id=e.id, at=now
        )
        service.append(
            s,
            e,
            actor=principal.sub,
            action=f"support_{action}",
            from_state=e.state,
            note=notes.support_acted(task.unit, action, text),
            photos=list(body.photos),
            at=now,
        )
        await service.emit_entry(
            uow, "entry.progressed.v1", e, actor=principal.sub, note=f"配合单位「{task.unit}」{text}"
        )
        out = SupportingTaskOut.of(task)
        await uow.commit()
    return out
