"""HTTP routes of agenda: parse, call agenda, map refusals to problem+json."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.meeting import api, planner
from services.meeting.agenda import add_item, items_of, load_session, move_item, queued_of, renumber, set_agenda
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["meeting"])


class AgendaOp(BaseModel):
    """One change of a session's agenda by the convenor."""

    op: Literal["add", "remove", "move", "pin", "unpin"]
    matter_id: str = Field(min_length=1, max_length=64)
    position: int | None = Field(None, ge=1, le=200, description="add/move: 1-based place on the agenda")
    reason: str | None = Field(None, max_length=500, description="Required for remove")


class AgendaOrder(BaseModel):
    """The whole agenda in its new order (every topic exactly once)."""

    matter_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=200)
    reason: str | None = Field(None, max_length=500)


@router.post("/sessions/{session_id}/agenda", response_model=api.SessionDetail, summary="Change the agenda (调整议程)")
async def change_agenda(
    session_id: str,
    body: AgendaOp,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> api.SessionDetail:
    """Add a queued matter, remove a topic (with a reason), move it, or pin it as the month's topic."""
    reason = body.reason.strip() if body.reason else None
    if body.op == "remove" and not reason:
        raise Problem(422, "撤下议题须说明理由", "A reason is required to remove a topic", field="reason")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = await load_session(uow, session_id, principal)
        qm = await queued_of(uow, s, body.matter_id)
        agenda = await planner.agenda_ids(uow, s.id)
        if body.op == "add":
            await add_item(uow, s, qm, principal, body.position)
        elif body.op == "remove":
            if body.matter_id not in agenda:
                raise Problem(404, "该事项不在本次议程中", "Matter is not on this agenda", field="matter_id")
            await planner.remove_from_agenda(
                uow, s.id, qm.matter_id, actor=principal.sub, action="remove", reason=reason
            )
            # Back to the queue without a carry-over: it was not passed over by a held session.
            qm.state, qm.session_id, qm.pinned, qm.updated_at = "queued", None, False, planner.utcnow()
            uow.session.add(qm)
        elif body.op == "move":
            await move_item(uow, s, body.matter_id, body.position, principal, reason)
        else:
            if body.matter_id not in agenda:
                if body.op == "unpin":
                    raise Problem(404, "该事项不在本次议程中", "Matter is not on this agenda", field="matter_id")
                await add_item(uow, s, qm, principal, body.position)  # pinning a queued matter puts it on too
            pin = body.op == "pin"
            if qm.pinned != pin:
                qm.pinned = pin
                uow.session.add(qm)
                await planner.record(uow, s, body.op, qm.matter_id, actor=principal.sub, reason=reason)
        set_agenda(s, principal)
        uow.session.add(s)
        await uow.session.flush()
        await planner.emit_scheduled(uow, s)
        await uow.commit()
    return await api.get_session(session_id, ctx, principal)


@router.put("/sessions/{session_id}/agenda", response_model=api.SessionDetail, summary="Reorder the agenda (议程排序)")
async def reorder_agenda(
    session_id: str,
    body: AgendaOrder,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> api.SessionDetail:
    """Put every topic in a new order; the list must name each topic on the agenda exactly once."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = await load_session(uow, session_id, principal)
        items = await items_of(uow, s.id)
        by_id = {i.matter_id: i for i in items}
        if len(body.matter_ids) != len(set(body.matter_ids)) or set(body.matter_ids) != set(by_id):
            raise Problem(
                422,
                "新顺序须包含本次议程的每个议题，且各一次",
                "The new order must list every topic on the agenda exactly once",
                field="matter_ids",
            )
        reason = body.reason.strip() if body.reason else None
        await renumber(uow, s, [by_id[m] for m in body.matter_ids], principal.sub, reason)
        set_agenda(s, principal)
        uow.session.add(s)
        await uow.session.flush()
        await planner.emit_scheduled(uow, s)
        await uow.commit()
    return await api.get_session(session_id, ctx, principal)
