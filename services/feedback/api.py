"""Feedback's HTTP API: due revisits, a matter's evaluations, and recording one household's evaluation."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.contracts.vocabulary import Method, Rating, Solved
from services.feedback import domain
from services.feedback.handlers import PENDING_STATUSES, matter_round, revisit_of
from services.feedback.models import REVISIT_STATUS_ZH, ROUND_OUTCOME_ZH, EvaluationRow, MatterRound, Revisit
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.privacy import Vault, load_keys, scrub_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx
from services.runtime.settings import Settings, get_settings
from services.runtime.uow import UnitOfWork

router = APIRouter(prefix="/v1", tags=["feedback"])

SATISFACTION_THRESHOLD = 0.8  # 满意率 below this sends the matter back (以评促改)
MIN_VOICES = 3  # voices needed before a round is decided: this many households, or all if fewer are affected

_vault: tuple[Settings, Vault] | None = None


def vault() -> Vault:
    """The process's PII vault (rebuilt when the settings object changes, e.g. in tests)."""
    global _vault
    settings = get_settings()
    if _vault is None or _vault[0] is not settings:
        _vault = (settings, Vault(load_keys(settings)))
    return _vault[1]


def household_ref(community: str, household: str) -> str:
    """A stable pseudonym of a household within a community; the raw address is never stored."""
    norm = re.sub(r"\s+", "", unicodedata.normalize("NFKC", household))
    return vault().pseudonym(f"household:{community}:{norm}", prefix="hh")


class EvaluationIn(BaseModel):
    """One household's evaluation of a completed matter, as a revisitor records it."""

    household: str = Field(min_length=1, max_length=64, description="Household address, e.g. 金泰和庄12-2-301")
    rating: Rating
    solved: Solved | None = None
    is_reporter: bool = Field(False, description="The household raised the matter (原报事人)")
    comment: str = Field("", max_length=500)
    method: Method

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("户不能为空 / Household must not be blank")
        return v.strip()


class EvaluationOut(BaseModel):
    """One recorded evaluation (the household only as a pseudonymous reference)."""

    id: str
    round: int
    household_ref: str
    rating: str
    rating_label: str
    solved: str | None
    is_reporter: bool
    comment: str
    method: str
    recorded_by: str
    recorded_at: dt.datetime


class RevisitOut(BaseModel):
    """A planned revisit of a completed matter."""

    id: str
    matter_id: str
    entry_id: str
    community: str
    round: int
    level: str
    category: str
    households: int
    methods: list[str]
    due_at: dt.datetime
    status: str
    status_label: str
    created_at: dt.datetime


class RoundOut(BaseModel):
    """A matter's evaluations in one round, with the satisfaction rate and outcome."""

    matter_id: str
    community: str
    round: int
    current_round: int
    closed: bool
    outcome: str
    outcome_label: str
    rate: float | None
    reasons: list[str]
    revisit: RevisitOut | None
    evaluations: list[EvaluationOut]


class Recorded(BaseModel):
    """The answer to a recorded evaluation."""

    evaluation_id: str
    matter_id: str
    round: int
    household_ref: str
    round_outcome: str
    round_outcome_label: str
    round_rate: float | None
    reopened_round: int | None = None
    escalate_to: str | None = None


def _revisit_out(r: Revisit) -> RevisitOut:
    return RevisitOut(
        id=r.id,
        matter_id=r.matter_id,
        entry_id=r.entry_id,
        community=r.community,
        round=r.round,
        level=r.level,
        category=r.category,
        households=r.households,
        methods=r.methods,
        due_at=r.due_at,
        status=r.status,
        status_label=REVISIT_STATUS_ZH.get(r.status, r.status),
        created_at=r.created_at,
    )


def _evaluation_out(e: EvaluationRow) -> EvaluationOut:
    return EvaluationOut(
        id=e.id,
        round=e.round,
        household_ref=e.household_ref,
        rating=e.rating,
        rating_label=domain.RATING_LABELS_ZH.get(e.rating, e.rating),
        solved=e.solved,
        is_reporter=e.is_reporter,
        comment=e.comment,
        method=e.method,
        recorded_by=e.recorded_by,
        recorded_at=e.recorded_at,
    )


def _as_domain(rows: list[EvaluationRow]) -> list[domain.Evaluation]:
    # The pseudonym stands in for the household, so reasons built from it carry no address.
    return [
        domain.Evaluation(
            household=e.household_ref, rating=e.rating, solved=e.solved, is_reporter=e.is_reporter, comment=e.comment
        )
        for e in rows
    ]


async def _round_rows(session: AsyncSession, matter_id: str, round: int) -> list[EvaluationRow]:
    q = (
        select(EvaluationRow)
        .where(EvaluationRow.matter_id == matter_id, EvaluationRow.round == round)
        .order_by(EvaluationRow.recorded_at, EvaluationRow.id)
    )
    return list((await session.exec(q)).all())


def _decide(rows: list[EvaluationRow], round: int, households: int) -> domain.Decision:
    return domain.decide(
        _as_domain(rows),
        round=round,
        threshold=SATISFACTION_THRESHOLD,
        min_evaluations=min(households, MIN_VOICES),
    )


def _not_open() -> Problem:
    return Problem(409, "该事项尚未办结或已销号", "The matter is not completed, or already closed: no open revisit")


async def record_evaluation(uow: UnitOfWork, principal: Principal, matter_id: str, body: EvaluationIn) -> Recorded:
    """Store one household's voice, decide the round and emit what follows (no commit)."""
    s = uow.session
    mr = await matter_round(s, matter_id, lock=True)
    if mr is None:
        raise _not_open()
    in_scope(principal, mr.community)
    revisit = None if mr.closed else await revisit_of(s, matter_id, mr.round)
    if revisit is None or revisit.status not in PENDING_STATUSES:
        raise _not_open()
    ref = household_ref(mr.community, body.household)
    voice = select(EvaluationRow.id).where(
        EvaluationRow.matter_id == matter_id, EvaluationRow.round == mr.round, EvaluationRow.household_ref == ref
    )
    duplicate = Problem(
        409,
        f"该户已在第 {mr.round} 轮评价过（一户一票）",
        f"This household already evaluated round {mr.round} (one household, one voice)",
        field="household",
    )
    if (await s.exec(voice)).first() is not None:
        raise duplicate
    now = dt.datetime.now(dt.UTC)
    row = EvaluationRow(
        id=f"evl_{uuid.uuid4().hex[:20]}",
        matter_id=matter_id,
        community=mr.community,
        round=mr.round,
        household_ref=ref,
        rating=body.rating,
        solved=body.solved,
        is_reporter=body.is_reporter,
        comment=scrub_text(body.comment.strip()),
        method=body.method,
        recorded_by=principal.sub,
        recorded_at=now,
    )
    try:
        async with s.begin_nested():
            s.add(row)
    except IntegrityError as exc:
        raise duplicate from exc
    decision = _decide(await _round_rows(s, matter_id, mr.round), mr.round, revisit.households)
    already_reopened = mr.outcome in ("reopen", "escalate")
    mr.outcome, mr.updated_at = decision.outcome, now
    await uow.emit(
        "evaluation.recorded.v1",
        community=mr.community,
        subject=matter_id,
        data=events.EvaluationRecorded(
            evaluation_id=row.id,
            matter_id=matter_id,
            round=mr.round,
            method=row.method,
            rating=row.rating,
            solved=row.solved,
            household_ref=ref,
            is_reporter=row.is_reporter,
            round_outcome=decision.outcome,
            round_rate=decision.rate,
            recorded_at=now,
        ),
    )
    out = Recorded(
        evaluation_id=row.id,
        matter_id=matter_id,
        round=mr.round,
        household_ref=ref,
        round_outcome=decision.outcome,
        round_outcome_label=ROUND_OUTCOME_ZH[decision.outcome],
        round_rate=decision.rate,
    )
    if decision.outcome in ("reopen", "escalate") and not already_reopened:
        escalate_to = "party_org" if decision.outcome == "escalate" else None
        await uow.emit(
            "matter.reopened.v1",
            community=mr.community,
            subject=matter_id,
            data=events.MatterReopened(
                matter_id=matter_id,
                round=mr.round + 1,
                reasons=list(decision.reasons)[:50],
                rate=decision.rate,
                escalate_to=escalate_to,
                reopened_at=now,
            ),
        )
        revisit.status = "done"
        out.reopened_round, out.escalate_to = mr.round + 1, escalate_to
    elif decision.outcome == "satisfied":
        revisit.status = "done"
    return out


@router.post(
    "/matters/{matter_id}/evaluations",
    status_code=201,
    response_model=Recorded,
    summary="Record one household's evaluation (一件一评价)",
)
async def post_evaluation(
    matter_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: EvaluationIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.record"))],
) -> Recorded:
    """Record an evaluation during the matter's open revisit; one household, one voice per round."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        out = await record_evaluation(uow, principal, matter_id, body)
        await uow.commit()
    return out


@router.get("/matters/{matter_id}/evaluations", response_model=RoundOut, summary="A matter's evaluations (评价情况)")
async def get_evaluations(
    matter_id: Annotated[str, Path(min_length=1, max_length=64)],
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    round: int | None = Query(None, ge=1, le=1000, description="Defaults to the current round"),
) -> RoundOut:
    """The evaluations of one round (the current one by default), its satisfaction rate and outcome."""
    async with ctx.db.session() as s:
        mr = await s.get(MatterRound, matter_id)
        if mr is None:
            raise Problem(404, "未找到该事项的回访记录", "No revisit known for this matter")
        in_scope(principal, mr.community)
        wanted = round or mr.round
        rows = await _round_rows(s, matter_id, wanted)
        revisit = await revisit_of(s, matter_id, wanted)
    evals = _as_domain(rows)
    decision = _decide(rows, wanted, revisit.households if revisit else 1) if rows else None
    # The current round's outcome is what was acted on; an earlier round's is recomputed from its voices.
    outcome = mr.outcome if wanted == mr.round else (decision.outcome if decision else "pending")
    return RoundOut(
        matter_id=matter_id,
        community=mr.community,
        round=wanted,
        current_round=mr.round,
        closed=mr.closed,
        outcome=outcome,
        outcome_label=ROUND_OUTCOME_ZH.get(outcome, outcome),
        rate=domain.satisfaction_rate(evals),
        reasons=list(decision.reasons) if decision else [],
        revisit=_revisit_out(revisit) if revisit else None,
        evaluations=[_evaluation_out(e) for e in rows],
    )


@router.get("/revisits", response_model=list[RevisitOut], summary="Revisits to make (回访任务)")
async def list_revisits(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["open", "done", "overdue"] | None = None,
    due_before: dt.datetime | None = Query(None, description="Only revisits due before this time"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[RevisitOut]:
    """Revisits of the communities the caller may see, soonest due first."""
    q = select(Revisit).where(scope_filter(principal, Revisit.community, community))
    if status:
        q = q.where(Revisit.status == status)
    if due_before is not None:
        if due_before.utcoffset() is None:
            raise Problem(422, "时间需带时区（如 +08:00）", "due_before must carry a UTC offset", field="due_before")
        q = q.where(Revisit.due_at < due_before)
    q = q.order_by(Revisit.due_at, Revisit.id).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        return [_revisit_out(r) for r in (await s.exec(q)).all()]
