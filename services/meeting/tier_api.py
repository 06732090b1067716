"""小事不出小区、大事不出社区: which hall a matter goes to, staff moving it, a compound meeting referring it up."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import select

from services.meeting import agenda_log, planner, service, tiers
from services.meeting.models import MeetingSession, QueuedMatter, TierChange, aware
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import Community, load_directory
from services.runtime.problems import Problem, field_error
from services.runtime.service import Ctx
from services.runtime.uow import UnitOfWork

router = APIRouter(prefix="/v1", tags=["meeting"])

TIER_ZH = tiers.TIER_ZH
ACTION_ZH = {"set": "工作人员指定", "auto": "恢复按规则", "refer_up": "小区议事会提交社区"}
PLANNABLE = ("queued", "scheduled")


class TierIn(BaseModel):
    """Move a matter to a hall: `community`, `compound`, or `auto` (back to the rule)."""

    tier: Literal["community", "compound", "auto"]
    reason: str = Field(min_length=1, max_length=500)


class TierChangeOut(BaseModel):
    """One move between halls."""

    at: dt.datetime
    actor: str
    action: str
    action_label: str
    to_tier: str
    to_tier_label: str
    session_id: str | None
    reason: str
    reason_en: str = Field(description="The reason in English words (a staff-typed reason as typed)")


class TierOut(BaseModel):
    """Where a matter is deliberated, what the rule says and why, and every change."""

    matter_id: str
    tier: str
    tier_label: str
    hall: str
    hall_name: str
    hall_name_en: str = Field(description="The hall in English words")
    rule_tier: str
    rule_reason: str = Field(description="Why the rule chooses its hall (Chinese)")
    rule_reason_en: str = Field(description="Why the rule chooses its hall, in English words")
    override: str | None
    session_id: str | None
    changes: list[TierChangeOut]


def _not_found() -> Problem:
    return Problem(404, "未找到该事项", "Matter not found")


def _out(community: Community, qm: QueuedMatter, changes: list[TierChange]) -> TierOut:
    rule = tiers.choose_tier(
        community, level=qm.level, compound=qm.compound, category=qm.category, households=qm.households
    )
    hall = planner.hall_of(community, qm)
    tier = tiers.COMMUNITY if hall == tiers.COMMUNITY else tiers.COMPOUND
    return TierOut(
        matter_id=qm.matter_id,
        tier=tier,
        tier_label=TIER_ZH[tier],
        hall=hall,
        hall_name=planner.hall_name(community, hall),
        hall_name_en=planner.hall_name_en(community, hall),
        rule_tier=rule.tier,
        rule_reason=rule.reason_zh,
        rule_reason_en=rule.reason_en,
        override=qm.tier_override,
        session_id=qm.session_id,
        changes=[
            TierChangeOut(
                at=aware(c.at),
                actor=c.actor,
                action=c.action,
                action_label=ACTION_ZH.get(c.action, c.action),
                to_tier=c.to_tier,
                to_tier_label=TIER_ZH.get(c.to_tier, c.to_tier),
                session_id=c.session_id,
                reason=c.reason,
                reason_en=agenda_log.reason_en(c.reason) or "",
            )
            for c in changes
        ],
    )


async def _changes(session, matter_id: str) -> list[TierChange]:
    q = select(TierChange).where(TierChange.matter_id == matter_id).order_by(TierChange.id)
    return list((await session.exec(q)).all())


def _community(code: str) -> Community:
    community = load_directory().community(code)
    if community is None:  # pragma: no cover - rows only exist for known communities
        raise Problem(409, f"社区「{code}」不在名录中", f"Community {code!r} is not in the directory")
    return community


@router.get("/matters/{matter_id}/tier", response_model=TierOut, summary="Which hall deliberates a matter (议事层级)")
async def get_tier(
    matter_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("session.read"))]
) -> TierOut:
    """The matter's hall (community hall or its compound's meeting), the rule's reason and every change."""
    async with ctx.db.session() as db:
        qm = await db.get(QueuedMatter, matter_id)
        if qm is None:
            raise _not_found()
        in_scope(principal, qm.community, _not_found())
        return _out(_community(qm.community), qm, await _changes(db, matter_id))


@router.post("/matters/{matter_id}/tier", response_model=TierOut, summary="Move a matter between halls (调整议事层级)")
async def set_tier(
    matter_id: str, body: TierIn, ctx: Ctx, principal: Annotated[Principal, Depends(require("session.manage"))]
) -> TierOut:
    """Staff decide the hall: the matter leaves an agenda of the other hall and is planned on its new hall's."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        qm = await uow.session.get(QueuedMatter, matter_id)
        if qm is None:
            raise _not_found()
        in_scope(principal, qm.community, _not_found())
        community = _community(qm.community)
        if qm.state not in PLANNABLE:
            raise Problem(
                409,
                "只有待议或已上会的事项可以调整议事层级",
                f"Only queued or scheduled matters can move between halls (state {qm.state})",
                extra={"state": qm.state},
            )
        override = None if body.tier == "auto" else body.tier
        if override == tiers.COMPOUND:
            found = community.compound(qm.compound) if qm.compound else None
            if found is None or found.hall is None or qm.level == "red":
                raise Problem(
                    422,
                    "tier：该事项所在小区未设小区议事会（或为红色事项），不能交小区议事",
                    "tier: the matter's compound has no compound meeting (or the matter is red)",
                    errors=[field_error("tier", "所在小区未设小区议事会", "no compound meeting for this matter")],
                )
        await move(
            uow,
            community,
            qm,
            override,
            actor=principal.sub,
            action="auto" if override is None else "set",
            reason=body.reason.strip(),
        )
        await uow.commit()
    async with ctx.db.session() as db:
        qm = await db.get(QueuedMatter, matter_id)
        return _out(community, qm, await _changes(db, matter_id))


async def move(
    uow: UnitOfWork,
    community: Community,
    qm: QueuedMatter,
    override: str | None,
    *,
    actor: str,
    action: str,
    reason: str,
    session_id: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Set a matter's tier, record who and why, and re-plan it if its hall changed."""
    now = now or planner.utcnow()
    before = planner.hall_of(community, qm)
    qm.tier_override, qm.updated_at = override, now
    after = planner.hall_of(community, qm)
    uow.session.add(
        TierChange(
            matter_id=qm.matter_id,
            community=qm.community,
            at=now,
            actor=actor[:128],
            action=action,
            to_tier=tiers.COMMUNITY if after == tiers.COMMUNITY else tiers.COMPOUND,
            session_id=session_id,
            reason=reason[:500],
        )
    )
    uow.session.add(qm)
    if after != before or qm.state == "queued":
        await service.place(uow, community, qm, now)


def refer_errors(s: MeetingSession, resolutions: list) -> list[dict]:
    """Only a compound meeting can refer a matter up to the community hall."""
    if s.hall != tiers.COMMUNITY:
        return []
    return [
        field_error(
            f"resolutions[{i}].outcome",
            "只有小区议事会可以提交社区议事厅",
            "Only a compound meeting can refer a matter up",
        )
        for i, r in enumerate(resolutions)
        if r.outcome == "refer_up"
    ]


async def refer_up(
    uow: UnitOfWork,
    community: Community,
    s: MeetingSession,
    qm: QueuedMatter,
    *,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> None:
    """大事不出社区: the compound meeting hands the matter to the community hall's next fixed day."""
    qm.state, qm.session_id = "queued", None
    await move(
        uow, community, qm, tiers.COMMUNITY, actor=actor, action="refer_up", reason=reason, session_id=s.id, now=now
    )
