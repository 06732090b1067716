"""The convenor sets the agenda (由社区党委班子共同研究，确定为当月主题): add, remove, move and pin topics.

The planner's automatic proposal is the starting point. The convenor's first change marks the agenda as
set (`agenda_set_by/at`): the planner adds nothing more to it, except topics the convenor pinned. Every
change, the planner's included, is an `agenda_change` row shown with the session.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import select

from services.meeting import api, planner, tiers
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, TierChange, aware
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.directory import load_directory
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


def _before_start(s: MeetingSession) -> None:
    if aware(s.starts_at) <= planner.utcnow():
        raise Problem(409, "议事会已开始，议程不能再调整", "The session has started; its agenda is fixed")


async def _items(uow, session_id: str) -> list[AgendaItem]:
    q = select(AgendaItem).where(AgendaItem.session_id == session_id).order_by(AgendaItem.position)
    return list((await uow.session.exec(q)).all())


async def _renumber(
    uow, s: MeetingSession, order: list[AgendaItem], actor: str, reason: str | None, moved: str | None = None
) -> None:
    """Give the items their new positions; record the moved topic (or, for a new order, each that moved)."""
    for pos, item in enumerate(order, start=1):
        if item.position == pos:
            continue
        if moved in (None, item.matter_id):
            await planner.record(
                uow, s, "move", item.matter_id, actor=actor, from_position=item.position, to_position=pos, reason=reason
            )
        item.position = pos
        uow.session.add(item)


def _set(s: MeetingSession, principal: Principal) -> None:
    if s.agenda_set_at is None:
        s.agenda_set_by, s.agenda_set_at = principal.sub[:128], planner.utcnow()


async def _queued(uow, s: MeetingSession, matter_id: str) -> QueuedMatter:
    qm = await uow.session.get(QueuedMatter, matter_id)
    if qm is None or qm.community != s.community:
        raise Problem(404, "本社区待议事项中没有该事项", "Matter not known in this community", field="matter_id")
    return qm


async def _add(uow, s: MeetingSession, qm: QueuedMatter, principal: Principal, position: int | None) -> None:
    if qm.session_id == s.id and qm.state == "scheduled":
        raise Problem(409, "该事项已在本次议程中", "Matter is already on this agenda", field="matter_id")
    if qm.state != "queued":
        label = api.STATE_ZH.get(qm.state, qm.state)
        raise Problem(
            409,
            f"只有待议事项可以列入议程（该事项：{label}）",
            f"Only queued matters can be added (matter is {qm.state})",
            field="matter_id",
            extra={"state": qm.state},
        )
    if qm.level == "red" and s.kind != "emergency":
        raise Problem(
            409,
            "红色事项须召开紧急议事会，不列入例会议程",
            "A red matter goes to an emergency session",
            field="matter_id",
        )
    if s.hall != tiers.COMMUNITY and (qm.compound != s.hall or qm.level == "red"):
        raise Problem(
            409,
            "小区议事会只议本小区的非红色事项",
            "A compound meeting takes only its own compound's non-red matters",
            field="matter_id",
        )
    community = load_directory().community(s.community)
    if community is not None and s.kind == "fixed_day" and planner.hall_of(community, qm) != s.hall:
        # The convenor takes it to this hall (or gives it to a compound meeting): record the tier with its reason.
        tier = tiers.COMMUNITY if s.hall == tiers.COMMUNITY else tiers.COMPOUND
        qm.tier_override = tier
        uow.session.add(
            TierChange(
                matter_id=qm.matter_id,
                community=qm.community,
                at=planner.utcnow(),
                actor=principal.sub[:128],
                action="set",
                to_tier=tier,
                session_id=s.id,
                reason="议程设置：列入该议事会",
            )
        )
    await planner.add_to_agenda(uow, s, qm, actor=principal.sub, position=position)


async def _move(uow, s: MeetingSession, matter_id: str, position: int | None, principal: Principal, reason) -> None:
    if position is None:
        raise Problem(422, "调整顺序须指定位置", "A move needs a position", field="position")
    items = await _items(uow, s.id)
    item = next((i for i in items if i.matter_id == matter_id), None)
    if item is None:
        raise Problem(404, "该事项不在本次议程中", "Matter is not on this agenda", field="matter_id")
    rest = [i for i in items if i is not item]
    rest.insert(min(position, len(items)) - 1, item)
    await _renumber(uow, s, rest, principal.sub, reason, moved=matter_id)


async def _load(uow, session_id: str, principal: Principal) -> MeetingSession:
    s = await api._load_for_update(uow, session_id, principal)
    _before_start(s)
    return s


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
        s = await _load(uow, session_id, principal)
        qm = await _queued(uow, s, body.matter_id)
        agenda = await planner.agenda_ids(uow, s.id)
        if body.op == "add":
            await _add(uow, s, qm, principal, body.position)
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
            await _move(uow, s, body.matter_id, body.position, principal, reason)
        else:
            if body.matter_id not in agenda:
                if body.op == "unpin":
                    raise Problem(404, "该事项不在本次议程中", "Matter is not on this agenda", field="matter_id")
                await _add(uow, s, qm, principal, body.position)  # pinning a queued matter puts it on too
            pin = body.op == "pin"
            if qm.pinned != pin:
                qm.pinned = pin
                uow.session.add(qm)
                await planner.record(uow, s, body.op, qm.matter_id, actor=principal.sub, reason=reason)
        _set(s, principal)
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
        s = await _load(uow, session_id, principal)
        items = await _items(uow, s.id)
        by_id = {i.matter_id: i for i in items}
        if len(body.matter_ids) != len(set(body.matter_ids)) or set(body.matter_ids) != set(by_id):
            raise Problem(
                422,
                "新顺序须包含本次议程的每个议题，且各一次",
                "The new order must list every topic on the agenda exactly once",
                field="matter_ids",
            )
        reason = body.reason.strip() if body.reason else None
        await _renumber(uow, s, [by_id[m] for m in body.matter_ids], principal.sub, reason)
        _set(s, principal)
        uow.session.add(s)
        await uow.session.flush()
        await planner.emit_scheduled(uow, s)
        await uow.commit()
    return await api.get_session(session_id, ctx, principal)
