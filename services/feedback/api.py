"""Feedback's HTTP API: revisit plans (回访任务), a matter's evaluations, recording voices, group forums."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, field_validator
from sqlmodel import func, select

from services.contracts import labels
from services.contracts.measures import revisit_measures_en
from services.contracts.vocabulary import Category, Level, Method, Rating, Solved
from services.feedback import domain
from services.feedback.handlers import PENDING_STATUSES, revisit_of
from services.feedback.models import REVISIT_STATUS_ZH, ROUND_OUTCOME_ZH, EvaluationRow, Forum, MatterRound, Revisit
from services.feedback.service import (
    MIN_VOICES,
    SATISFACTION_THRESHOLD,
    EvaluationIn,
    Recorded,
    Voice,
    as_domain,
    clean_household,
    decide_rows,
    household_ref,
    open_round,
    record_evaluation,
    record_voices,
    round_rows,
)
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
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
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx

__all__ = ["MIN_VOICES", "SATISFACTION_THRESHOLD", "EvaluationIn", "Recorded", "household_ref", "record_evaluation"]

router = APIRouter(prefix="/v1", tags=["feedback"])

SUB_PATTERN = r"^[\w.@:\-]{1,128}$"
MAX_FORUM_VOICES = 300


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
    evidence: dict | None = None


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
    measures: str | None = None
    measures_en: str | None = Field(None, description="What was done, in English; others' words quoted")
    assignee: str | None = None
    reminded_at: dt.datetime | None = None


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
    reasons_en: list[str] = Field(description="The reasons in English words, line for line with `reasons`")
    revisit: RevisitOut | None
    evaluations: list[EvaluationOut]


class RevisitPatch(BaseModel):
    """Staff edits to a revisit plan; omitted fields stay as they are."""

    methods: list[Method] | None = Field(None, min_length=1, max_length=4)
    due_at: Moment | None = Field(None, description="With a UTC offset, e.g. 2025-06-06T18:00:00+08:00")
    assignee: str | None = Field(None, pattern=SUB_PATTERN, description="The grid worker's subject (sub)")

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("回访方式不能重复 / Methods must be distinct")
        return v

    @field_validator("due_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.utcoffset() is None:
            raise ValueError("时间需带时区（如 +08:00） / due_at must carry a UTC offset")
        return v


class ForumVoice(BaseModel):
    """One household's voice at a group forum."""

    household: str = Field(min_length=1, max_length=64)
    rating: Rating
    solved: Solved | None = None
    is_reporter: bool = False
    comment: str = Field("", max_length=500)

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return clean_household(v)


class ForumIn(BaseModel):
    """The outcome of a group forum (集中座谈): many households' evaluations at once."""

    held_at: Moment
    place: str = Field(min_length=1, max_length=200)
    evaluations: list[ForumVoice] = Field(min_length=1, max_length=MAX_FORUM_VOICES)

    @field_validator("held_at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.utcoffset() is None:
            raise ValueError("时间需带时区（如 +08:00） / held_at must carry a UTC offset")
        return v


class ForumOut(BaseModel):
    """A recorded forum and where the round stands after it."""

    forum_id: str
    matter_id: str
    round: int
    households: int
    evaluation_ids: list[str]
    round_outcome: str
    round_outcome_label: str
    round_rate: float | None
    reopened_round: int | None = None
    escalate_to: str | None = None


def revisit_out(r: Revisit) -> RevisitOut:
    """The public shape of a revisit."""
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
        measures=r.measures,
        measures_en=revisit_measures_en(r.measures),
        assignee=r.assignee,
        reminded_at=r.reminded_at,
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
        evidence=e.evidence,
    )


MatterId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/matters/{matter_id}/evaluations",
    status_code=201,
    response_model=Recorded,
    summary="Record one household's evaluation (一件一评价)",
)
async def post_evaluation(
    matter_id: MatterId,
    body: EvaluationIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.record"))],
) -> Recorded:
    """Record an evaluation during the matter's open revisit; one household, one voice per round."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        out = await record_evaluation(uow, principal, matter_id, body)
        await uow.commit()
    return out


@router.post(
    "/matters/{matter_id}/forum",
    status_code=201,
    response_model=ForumOut,
    summary="Record a group forum's evaluations (集中座谈)",
)
async def post_forum(
    matter_id: MatterId,
    body: ForumIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.record"))],
) -> ForumOut:
    """Record every household heard at a forum at once: all or nothing, each household once per round."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        mr, revisit = await open_round(uow.session, matter_id, principal)
        forum_id = f"frm_{uuid.uuid4().hex[:20]}"
        voices = [
            Voice(
                household_ref=household_ref(mr.community, v.household),
                rating=v.rating,
                method="group_forum",
                solved=v.solved,
                is_reporter=v.is_reporter,
                comment=v.comment,
                evidence={"forum_id": forum_id},
            )
            for v in body.evaluations
        ]
        out = await record_voices(uow, mr, revisit, voices, recorded_by=principal.sub)
        uow.session.add(
            Forum(
                id=forum_id,
                matter_id=matter_id,
                community=mr.community,
                round=out[0].round,
                held_at=body.held_at,
                place=body.place.strip(),
                households=len(voices),
                recorded_by=principal.sub,
                recorded_at=dt.datetime.now(dt.UTC),
            )
        )
        await uow.commit()
    last = out[-1]
    return ForumOut(
        forum_id=forum_id,
        matter_id=matter_id,
        round=last.round,
        households=len(out),
        evaluation_ids=[o.evaluation_id for o in out],
        round_outcome=last.round_outcome,
        round_outcome_label=last.round_outcome_label,
        round_rate=last.round_rate,
        reopened_round=last.reopened_round,
        escalate_to=last.escalate_to,
    )


@router.get("/matters/{matter_id}/evaluations", response_model=RoundOut, summary="A matter's evaluations (评价情况)")
async def get_evaluations(
    matter_id: MatterId,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    round: int | None = Query(None, ge=1, le=1000, description="Defaults to the current round"),
) -> RoundOut:
    """The evaluations of one round (the current one by default), its satisfaction rate and outcome."""
    async with ctx.db.session() as s:
        mr = await s.get(MatterRound, matter_id)
        unknown = Problem(404, "未找到该事项的回访记录", "No revisit known for this matter")
        if mr is None:
            raise unknown
        in_scope(principal, mr.community, unknown)
        wanted = round or mr.round
        rows = await round_rows(s, matter_id, wanted)
        revisit = await revisit_of(s, matter_id, wanted)
    decision = decide_rows(rows, wanted, revisit.households if revisit else 1) if rows else None
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
        rate=domain.satisfaction_rate(as_domain(rows)),
        reasons=list(decision.reasons) if decision else [],
        reasons_en=list(decision.reasons_en) if decision else [],
        revisit=revisit_out(revisit) if revisit else None,
        evaluations=[_evaluation_out(e) for e in rows],
    )


def _revisit_conditions(principal, community, status, assignee, due_before, level, category, q, since, until) -> list:
    """The WHERE of the revisit list and its export (same filters, same scope); since/until: the due day."""
    conds = [scope_filter(principal, Revisit.community, community)]
    if status:
        conds.append(Revisit.status == status)
    if assignee:
        conds.append(Revisit.assignee == (principal.sub if assignee == "me" else assignee))
    if due_before is not None:
        if due_before.utcoffset() is None:
            raise Problem(422, "时间需带时区（如 +08:00）", "due_before must carry a UTC offset", field="due_before")
        conds.append(Revisit.due_at < due_before)
    if level:
        conds.append(Revisit.level == level)
    if category:
        conds.append(Revisit.category == category)
    if q and q.strip():
        conds.append(Revisit.measures.like(like(q), escape="\\"))
    conds += within(Revisit.due_at, since, until)
    return conds


@router.get("/revisits", response_model=Page[RevisitOut], summary="Revisits to make (回访任务)")
async def list_revisits(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["open", "done", "overdue"] | None = None,
    assignee: str | None = Query(None, max_length=128, description="A grid worker's sub, or `me` for the caller"),
    due_before: Moment | None = Query(None, description="Only revisits due before this time"),
    level: Level | None = None,
    category: Category | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RevisitOut]:
    """Revisits of the communities the caller may see, soonest due first (a grid worker's list: assignee=me)."""
    conds = _revisit_conditions(principal, community, status, assignee, due_before, level, category, q, since, until)
    query = select(Revisit).where(*conds).order_by(Revisit.due_at, Revisit.id).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(Revisit).where(*conds))).one()
        items = [revisit_out(r) for r in (await s.exec(query)).all()]
    return Page[RevisitOut](items=items, total=total, limit=limit, offset=offset)


REVISIT_HEADERS = {
    "zh": ["社区", "类别", "等级", "办理措施", "涉及户数", "评价方式", "应回访时间", "状态", "轮次"],
    "en": ["Community", "Category", "Level", "What was done", "Households", "Methods", "Due", "Status", "Round"],
}


@router.get("/revisits.xlsx", summary="Export revisits (回访任务导出, XLSX)")
async def export_revisits(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["open", "done", "overdue"] | None = None,
    level: Level | None = None,
    category: Category | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same revisits as the list, in words."""
    conds = _revisit_conditions(principal, community, status, None, None, level, category, q, since, until)
    query = select(Revisit).where(*conds).order_by(Revisit.due_at, Revisit.id).limit(EXPORT_MAX)
    async with ctx.db.session() as s:
        rows = (await s.exec(query)).all()
    word = labels.zh if lang == "zh" else labels.en
    sep = "、" if lang == "zh" else ", "
    body = [
        [
            place_words(r.community),
            word("category", r.category),
            word("level", r.level),
            r.measures or "",
            r.households,
            sep.join(word("method", m) for m in r.methods),
            r.due_at,
            word("revisit_status", r.status),
            r.round,
        ]
        for r in rows
    ]
    title = "回访任务" if lang == "zh" else "Revisits"
    return xlsx_response(title, REVISIT_HEADERS[lang], body, f"{title}.xlsx")


@router.patch("/revisits/{revisit_id}", response_model=RevisitOut, summary="Edit a revisit plan (调整回访计划)")
async def patch_revisit(
    revisit_id: Annotated[str, Path(min_length=1, max_length=40)],
    body: RevisitPatch,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("revisit.manage"))],
) -> RevisitOut:
    """Change a pending revisit's methods, due time or assigned grid worker."""
    if not body.model_fields_set:
        raise Problem(422, "没有要修改的内容", "Nothing to change: give methods, due_at or assignee")
    async with ctx.db.session() as s:
        r = (await s.exec(select(Revisit).where(Revisit.id == revisit_id).with_for_update())).first()
        unknown = Problem(404, "未找到该回访任务", "No such revisit")
        if r is None:
            raise unknown
        in_scope(principal, r.community, unknown)
        if r.status not in PENDING_STATUSES:
            raise Problem(409, "该回访已结束，不能修改", "The revisit is done and can no longer change")
        methods = body.methods if body.methods is not None else r.methods
        assignee = body.assignee if "assignee" in body.model_fields_set else r.assignee
        if "home_visit" in methods and not assignee:
            raise Problem(
                422, "上门回访须指派网格员", "A home visit must be assigned to a grid worker", field="assignee"
            )
        now = dt.datetime.now(dt.UTC)
        r.methods = [m for m in domain.METHODS if m in methods]
        r.assignee = assignee
        if body.due_at is not None and body.due_at != r.due_at:
            r.due_at = body.due_at.astimezone(dt.UTC)
            r.reminded_at = None  # a new due time deserves a new reminder
            r.status = "overdue" if r.due_at < now else "open"
        r.updated_by = principal.sub
        await s.commit()
        await s.refresh(r)
        return revisit_out(r)
