"""未诉先办 over HTTP and as a periodic job: proposals from the history, the convenor's accept or dismiss (audited)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from services.contracts import events
from services.meeting import domain, foresight, planner, service
from services.meeting.models import ForesightProposal, QueuedMatter, aware, utc
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.directory import Community, load_directory
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx
from services.runtime.uow import UnitOfWork

router = APIRouter(prefix="/v1/foresight", tags=["foresight"])

STATUS_ZH = {"proposed": "待研究", "accepted": "已列为议题", "dismissed": "不列入"}
KIND_ZH = {"recurring": "反复出现", "seasonal": "季节性"}
SYSTEM = "foresight"
WAITING = ("queued", "scheduled")


class ProposalOut(BaseModel):
    """One proposal: the problem, the month, the evidence in words, and what the convenor decided."""

    id: str
    community: str
    month: str
    compound: str
    compound_name: str
    building: str | None
    category: str
    category_label: str
    kind: str
    kind_label: str
    season: str | None
    evidence_zh: str
    evidence_en: str = Field(description="The evidence in English words (place names stay as the directory has them)")
    dates: list[str]
    count: int
    status: str
    status_label: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    matter_id: str | None = Field(None, description="The topic an acceptance put on the agenda queue")
    session_id: str | None = None


class DecideIn(BaseModel):
    """Why (required to dismiss)."""

    reason: str | None = Field(None, max_length=500)


# --- the proposals --------------------------------------------------------------------------------


def coming_month(now: dt.datetime) -> tuple[int, int]:
    """The month proposals are for: the next calendar month (Beijing time)."""
    local = now.astimezone(domain.TZ)
    return (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)


def _place_name(community: Community):
    def name(code: str, building: str | None) -> str:
        found = community.compound(code)
        b = found.building(building) if found is not None and building else None
        bname = b.name if b is not None else (f"{building}号楼" if building else "")
        return f"{found.name if found else code}{bname}"

    return name


def _place_en(community: Community | None, code: str, building: str | None) -> str:
    """The place in English words: the compound's directory name and "Building 12" (never a code)."""
    found = community.compound(code) if community is not None else None
    if found is None:
        return ""
    b = found.building(building) if building else None
    where = foresight.building_en(b.code, b.name) if b is not None else foresight.building_en(building)
    return " ".join(x for x in (found.name, where) if x)


def proposal_evidence_en(community: Community | None, p: ForesightProposal) -> str:
    """A stored proposal's evidence in English, worded from its facts (month, kind, season, dates)."""
    year, month = (int(x) for x in p.month.split("-"))
    dates = [dt.date.fromisoformat(d) for d in p.evidence.get("dates", [])]
    place = _place_en(community, p.compound, p.building)
    return foresight.evidence_en(place, p.category, p.kind, p.season, dates, year, month)


def make_proposal_id(community: str, problem: str, month: str) -> str:
    """The same problem and month always give the same id, so replicas propose it once."""
    return "fs_" + hashlib.sha256(f"{community}|{problem}|{month}".encode()).hexdigest()[:24]


async def history(uow: UnitOfWork, community: str) -> list[foresight.Past]:
    """Every matter meeting knows of a community (deliberated or fixed directly), as the detection reads them."""
    q = select(QueuedMatter).where(QueuedMatter.community == community)
    out = []
    for qm in (await uow.session.exec(q)).all():
        if qm.matter_id.startswith("mat_fs_") and qm.state not in WAITING:
            continue  # a past 未诉先办 topic is not another report of the problem
        out.append(
            foresight.Past(
                matter_id=qm.matter_id,
                compound=qm.compound,
                building=qm.building,
                category=qm.category,
                on=aware(qm.queued_at).astimezone(domain.TZ).date(),
                waiting=qm.state in WAITING,
            )
        )
    return out


async def propose(uow: UnitOfWork, community: Community, now: dt.datetime) -> int:
    """Store this community's proposals for the coming month (each problem once per month); return how many."""
    year, month = coming_month(now)
    label = f"{year:04d}-{month:02d}"
    made = 0
    for f in foresight.detect(await history(uow, community.code), year, month, _place_name(community)):
        row = ForesightProposal(
            id=make_proposal_id(community.code, f.key, label),
            community=community.code,
            problem=f.key,
            month=label,
            compound=f.compound,
            building=f.building,
            category=f.category,
            kind=f.kind,
            season=f.season,
            evidence_zh=f.evidence_zh[:2000],
            evidence={"dates": [d.isoformat() for d in f.dates], "matter_ids": list(f.matter_ids)},
            created_at=utc(now),
        )
        if await uow.session.get(ForesightProposal, row.id) is not None:
            continue
        try:
            async with uow.session.begin_nested():
                uow.session.add(row)
            made += 1
        except IntegrityError:
            continue  # another replica proposed it meanwhile
    return made


async def run(uow_factory: service.UowFactory, now: dt.datetime | None = None) -> int:
    """The periodic job: every community's proposals for the coming month."""
    return await service.each_community(uow_factory, propose, now, "foresight")


# --- HTTP -----------------------------------------------------------------------------------------


def _out(p: ForesightProposal, session_id: str | None = None) -> ProposalOut:
    community = load_directory().community(p.community)
    found = community.compound(p.compound) if community is not None else None
    return ProposalOut(
        id=p.id,
        community=p.community,
        month=p.month,
        compound=p.compound,
        compound_name=found.name if found is not None else p.compound,
        building=p.building,
        category=p.category,
        category_label=foresight.CATEGORY_ZH.get(p.category, p.category),
        kind=p.kind,
        kind_label=KIND_ZH.get(p.kind, p.kind),
        season=p.season,
        evidence_zh=p.evidence_zh,
        evidence_en=proposal_evidence_en(community, p),
        dates=list(p.evidence.get("dates", [])),
        count=len(p.evidence.get("dates", [])),
        status=p.status,
        status_label=STATUS_ZH.get(p.status, p.status),
        created_at=aware(p.created_at),
        decided_by=p.decided_by,
        decided_at=aware(p.decided_at),
        reason=p.reason,
        matter_id=p.matter_id,
        session_id=session_id,
    )


def _not_found() -> Problem:
    return Problem(404, "未找到该建议议题", "Proposal not found")


@router.get("", response_model=Page[ProposalOut], summary="未诉先办: proposed topics from recurring problems")
async def list_proposals(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["proposed", "accepted", "dismissed"] | None = None,
    month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProposalOut]:
    """Proposals of the communities the caller may see, newest month first, most evidence first."""
    conds = [scope_filter(principal, ForesightProposal.community, community)]
    if status:
        conds.append(ForesightProposal.status == status)
    if month:
        conds.append(ForesightProposal.month == month)
    async with ctx.db.session() as db:
        total = (await db.exec(select(func.count()).select_from(ForesightProposal).where(*conds))).one()
        q = (
            select(ForesightProposal)
            .where(*conds)
            .order_by(ForesightProposal.month.desc(), ForesightProposal.created_at, ForesightProposal.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await db.exec(q)).all()
    return Page[ProposalOut](items=[_out(p) for p in rows], total=total, limit=limit, offset=offset)


@router.post("/run", response_model=Page[ProposalOut], summary="Look for recurring problems now")
async def run_now(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
    community: str = Query(max_length=64),
) -> Page[ProposalOut]:
    """What the hourly job does, for one community now: the coming month's proposals (already made ones stay)."""
    in_scope(principal, community)
    found = load_directory().community(community)
    if found is None:
        raise Problem(404, "未找到该社区", "Community not found")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        await propose(uow, found, planner.utcnow())
        await uow.commit()
    year, month = coming_month(planner.utcnow())
    return await list_proposals(ctx, principal, community, None, f"{year:04d}-{month:02d}", 50, 0)


async def _decidable(uow: UnitOfWork, proposal_id: str, principal: Principal) -> ForesightProposal:
    q = select(ForesightProposal).where(ForesightProposal.id == proposal_id).with_for_update()
    p = (await uow.session.exec(q)).first()
    if p is None:
        raise _not_found()
    in_scope(principal, p.community, _not_found())
    if p.status != "proposed":
        raise Problem(
            409,
            f"该建议已处理（{STATUS_ZH.get(p.status, p.status)}）",
            f"Proposal already {p.status}",
            extra={"state": p.status},
        )
    return p


@router.post("/{proposal_id}/accept", response_model=ProposalOut, summary="Make it a topic (列为议题)")
async def accept(
    proposal_id: str,
    body: DecideIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> ProposalOut:
    """The problem becomes a pinned topic of its hall's next fixed day; the ledger learns of it."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        p = await _decidable(uow, proposal_id, principal)
        community = load_directory().community(p.community)
        if community is None:  # pragma: no cover - proposals exist for known communities only
            raise _not_found()
        now = planner.utcnow()
        where = _place_name(community)(p.compound, p.building)
        title = f"未诉先办：{where}{foresight.CATEGORY_ZH.get(p.category, p.category)}问题（{KIND_ZH[p.kind]}）"
        matter_id = "mat_" + p.id  # mat_fs_…: never a triage id
        qm = QueuedMatter(
            matter_id=matter_id,
            community=p.community,
            compound=p.compound,
            building=p.building,
            category=p.category,
            level="yellow",
            route="deliberate",
            title=title[:500],
            households=max(1, len(p.evidence.get("dates", []))),
            queued_at=now,
            pinned=True,
            updated_at=now,
        )
        uow.session.add(qm)
        await uow.session.flush()
        p.status, p.decided_by, p.decided_at = "accepted", principal.sub[:128], now
        p.reason, p.matter_id = (body.reason or "").strip()[:500] or None, matter_id
        uow.session.add(p)
        await uow.emit(
            "matter.foreseen.v1",
            community=p.community,
            subject=matter_id,
            data=events.MatterForeseen(
                matter_id=matter_id,
                title=title[:200],
                place=events.Place(compound=p.compound, building=p.building),
                category=p.category,
                evidence=p.evidence_zh[:2000],
                accepted_by=principal.sub[:128],
                accepted_at=now,
            ),
        )
        s = await service.place(uow, community, qm, now)
        await uow.commit()
    return _out(p, s.id if s is not None else None)


@router.post("/{proposal_id}/dismiss", response_model=ProposalOut, summary="Do not make it a topic (不列入)")
async def dismiss(
    proposal_id: str,
    body: DecideIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("session.manage"))],
) -> ProposalOut:
    """Dismiss with a reason; the same problem is not proposed again for that month."""
    if not (body.reason or "").strip():
        raise Problem(422, "请说明不列入的理由", "A reason is required to dismiss", field="reason")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        p = await _decidable(uow, proposal_id, principal)
        p.status, p.decided_by, p.decided_at = "dismissed", principal.sub[:128], planner.utcnow()
        p.reason = (body.reason or "").strip()[:500]
        uow.session.add(p)
        await uow.commit()
    return _out(p)
