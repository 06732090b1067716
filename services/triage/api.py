"""Triage's HTTP API: matters, the review queue, staff regrades and a no-store grading preview."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, field_validator
from sqlmodel import func, select

from services.contracts import labels
from services.contracts.vocabulary import Category, Channel, Kind, Level, Route
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
from services.triage import history, regroup
from services.triage.domain import CATEGORY_LABELS
from services.triage.grader import grade
from services.triage.handlers import (
    LEVEL_LABELS,
    ROUTE_LABELS,
    phrase_additions,
    reasons_of,
)
from services.triage.models import Matter, MatterReport, Regrade
from services.triage.reasons import columns
from services.triage.service import RegradeError, apply_regrade, confirm_grade

router = APIRouter(prefix="/v1", tags=["triage"])
STATUS_LABELS = {"open": "办理中", "closed": "已销号", "merged": "已合并"}


class MatterOut(BaseModel):
    """A matter as staff see it in lists."""

    id: str
    community: str
    compound: str | None
    building: str | None
    unit: str | None
    title: str
    kind: str
    category: str
    category_label: str
    level: str
    level_label: str
    route: str
    route_label: str
    confidence: float
    needs_review: bool
    households: int
    reporters: int
    status: str
    status_label: str
    merged_into: str | None = None
    split_from: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ReportOut(BaseModel):
    """One report of a matter as staff see it (text already scrubbed by intake)."""

    report_id: str
    text: str
    received_at: dt.datetime


class RegradeOut(BaseModel):
    """One entry of a matter's grade history."""

    action: str | None = None
    by: str
    reason: str
    reason_en: str = Field(
        description="The reason in English words (triage's own sentences); a staff-typed reason reads as typed"
    )
    before: dict
    after: dict
    at: dt.datetime


class MatterDetail(MatterOut):
    """One matter with its reasons, report ids and grade history."""

    reasons: list[str]
    reasons_en: list[str] = Field(
        description="The reasons in English words, line for line (an empty line: graded before English twins)"
    )
    report_ids: list[str]
    reports: list[ReportOut] = []
    regrades: list[RegradeOut]


def _reason(v: str) -> str:
    v = v.strip()
    if len(v) < 2:
        raise ValueError("请填写理由（至少 2 个字） / A reason of at least 2 characters is required")
    return v


class MergeIn(BaseModel):
    """Merge this matter into another of the same community; the reason is required (it is audited)."""

    into: str = Field(min_length=1, max_length=40, description="The matter that survives")
    reason: str = Field(min_length=2, max_length=500)

    @field_validator("reason")
    @classmethod
    def _check_reason(cls, v: str) -> str:
        return _reason(v)


class SplitIn(BaseModel):
    """Move some reports of this matter to a new matter; the reason is required (it is audited)."""

    report_ids: list[str] = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=2, max_length=500)

    @field_validator("reason")
    @classmethod
    def _check_reason(cls, v: str) -> str:
        return _reason(v)


class RegradeIn(BaseModel):
    """A staff override of a matter's grade; the reason is required (it is audited)."""

    level: Level
    route: Route
    category: Category | None = Field(None, description="Unchanged when absent")
    reason: str = Field(min_length=2, max_length=500)

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        v = v.strip()
        if len(v) < 2:
            raise ValueError("请填写改判理由（至少 2 个字） / A reason of at least 2 characters is required")
        return v


class ReviewIn(BaseModel):
    """Accept a flagged grade as it is (to change it, use regrade)."""

    accept: bool = Field(description="Must be true: the grade is confirmed unchanged")
    note: str | None = Field(None, max_length=200)


class PreviewIn(BaseModel):
    """Text to grade without storing anything."""

    text: str = Field(min_length=1, max_length=5000)
    channel: Channel = "miniprogram"
    community: str | None = Field(None, max_length=64, description="Use this community's extra phrases")
    households: int = Field(1, ge=1, le=100_000)
    reporters: int = Field(1, ge=1, le=100_000)
    kind: Kind | None = None
    category_hint: Category | None = None


class GradeOut(BaseModel):
    """The grade the rules give a text, with the reasons."""

    level: str
    level_label: str
    route: str
    route_label: str
    kind: str
    category: str
    category_label: str
    reasons: list[str]
    reasons_en: list[str] = Field(description="The reasons in English words, line for line")
    confidence: float
    needs_review: bool


def _out(m: Matter) -> dict:
    return dict(
        id=m.id,
        community=m.community,
        compound=m.compound,
        building=m.building,
        unit=m.unit,
        title=m.title,
        kind=m.kind,
        category=m.category,
        category_label=CATEGORY_LABELS.get(m.category, m.category),
        level=m.level,
        level_label=LEVEL_LABELS.get(m.level, m.level),
        route=m.route,
        route_label=ROUTE_LABELS.get(m.route, m.route),
        confidence=m.confidence,
        needs_review=m.needs_review,
        households=m.households,
        reporters=m.reporters,
        status=m.status,
        status_label=STATUS_LABELS.get(m.status, m.status),
        merged_into=m.merged_into,
        split_from=m.split_from,
        created_at=m.created_at,
        updated_at=m.updated_at,
        version=m.version,
    )


def _not_found() -> Problem:
    return Problem(404, "未找到该事项", "Matter not found")


def _matter_conditions(principal, community, level, route, status, needs_review, category, q, since, until) -> list:
    """The WHERE of the matter lists and their export (same filters, same scope)."""
    conds = [scope_filter(principal, Matter.community, community)]
    if level:
        conds.append(Matter.level == level)
    if route:
        conds.append(Matter.route == route)
    if status:
        conds.append(Matter.status == status)
    if needs_review is not None:
        conds.append(Matter.needs_review == needs_review)
    if category:
        conds.append(Matter.category == category)
    if q and q.strip():
        conds.append(Matter.title.like(like(q), escape="\\"))
    conds += within(Matter.created_at, since, until)
    return conds


@router.get("/matters", response_model=Page[MatterOut], summary="List matters (事项列表)")
async def list_matters(
    ctx: Ctx,
    response: Response,
    principal: Annotated[Principal, Depends(require("matter.read"))],
    community: Annotated[str | None, Query(max_length=64)] = None,
    level: Level | None = None,
    route: Route | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed|merged)$")] = None,
    needs_review: bool | None = None,
    category: Category | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[MatterOut]:
    """Matters of the communities the caller may see, newest first (the total also in X-Total-Count)."""
    conds = _matter_conditions(principal, community, level, route, status, needs_review, category, q, since, until)
    query = select(Matter).where(*conds).order_by(Matter.created_at.desc(), Matter.id).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(Matter).where(*conds))).one()
        rows = (await s.exec(query)).all()
    response.headers["X-Total-Count"] = str(total)
    return Page[MatterOut](items=[MatterOut(**_out(m)) for m in rows], total=total, limit=limit, offset=offset)


@router.get("/review", response_model=Page[MatterOut], summary="Review queue (待人工复核)")
async def review_queue(
    ctx: Ctx,
    response: Response,
    principal: Annotated[Principal, Depends(require("matter.read"))],
    community: Annotated[str | None, Query(max_length=64)] = None,
    level: Level | None = None,
    category: Category | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[MatterOut]:
    """Open matters flagged for review, oldest first."""
    conds = _matter_conditions(principal, community, level, None, "open", True, category, q, since, until)
    query = select(Matter).where(*conds).order_by(Matter.created_at, Matter.id).offset(offset).limit(limit)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(Matter).where(*conds))).one()
        rows = (await s.exec(query)).all()
    response.headers["X-Total-Count"] = str(total)
    return Page[MatterOut](items=[MatterOut(**_out(m)) for m in rows], total=total, limit=limit, offset=offset)


MATTER_HEADERS = {
    "zh": ["事项", "社区及地点", "类别", "等级", "办理方式", "涉及户数", "报事人数", "待复核", "状态", "分级时间"],
    "en": ["Matter", "Place", "Category", "Level", "Route", "Households", "Reporters", "Needs review", "Status",
           "Graded"],
}  # fmt: skip


@router.get("/matters.xlsx", summary="Export matters (事项导出, XLSX)")
async def export_matters(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("matter.read"))],
    community: Annotated[str | None, Query(max_length=64)] = None,
    level: Level | None = None,
    route: Route | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed|merged)$")] = None,
    needs_review: bool | None = None,
    category: Category | None = None,
    q: Keyword = None,
    since: Since = None,
    until: Until = None,
    lang: Lang = "zh",
):
    """The same matters as the list (the review queue: needs_review=true&status=open), in words."""
    conds = _matter_conditions(principal, community, level, route, status, needs_review, category, q, since, until)
    query = select(Matter).where(*conds).order_by(Matter.created_at.desc(), Matter.id).limit(EXPORT_MAX)
    async with ctx.db.session() as s:
        rows = (await s.exec(query)).all()
    word = labels.zh if lang == "zh" else labels.en
    body = [
        [
            m.title,
            place_words(m.community, m.compound, m.building),
            word("category", m.category),
            word("level", m.level),
            word("route", m.route),
            m.households,
            m.reporters,
            word("filter", "yes" if m.needs_review else "no"),
            word("matter_status", m.status),
            m.created_at,
        ]
        for m in rows
    ]
    title = "事项" if lang == "zh" else "Matters"
    return xlsx_response(title, MATTER_HEADERS[lang], body, f"{title}.xlsx")


async def _detail(s, m: Matter) -> MatterDetail:
    reports = (
        await s.exec(
            select(MatterReport)
            .where(MatterReport.matter_id == m.id)
            .order_by(MatterReport.received_at, MatterReport.report_id)
        )
    ).all()
    regrades = (await s.exec(select(Regrade).where(Regrade.matter_id == m.id).order_by(Regrade.id))).all()
    return MatterDetail(
        **_out(m),
        reasons=list(m.reasons),
        reasons_en=columns(reasons_of(m))[1],
        report_ids=[r.report_id for r in reports],
        reports=[ReportOut(report_id=r.report_id, text=r.text, received_at=r.received_at) for r in reports],
        regrades=[
            RegradeOut(
                action=r.action,
                by=r.by,
                reason=r.reason,
                reason_en=history.english(r.action, r.reason, r.before, r.after),
                before=r.before,
                after=r.after,
                at=r.at,
            )
            for r in regrades
        ],
    )


@router.get("/matters/{matter_id}", response_model=MatterDetail, summary="One matter (事项详情)")
async def get_matter(
    matter_id: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("matter.read"))]
) -> MatterDetail:
    """One matter with reasons, report ids and grade history, if the caller may see its community."""
    async with ctx.db.session() as s:
        m = await s.get(Matter, matter_id)
        if m is None:
            raise _not_found()
        in_scope(principal, m.community)
        return await _detail(s, m)


@router.post("/matters/{matter_id}/regrade", response_model=MatterDetail, summary="Override a grade (人工改判)")
async def regrade_matter(
    matter_id: str,
    body: RegradeIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("matter.regrade"))],
) -> MatterDetail:
    """Set level, route and category by hand with a reason; audited; emits matter.regraded.v1."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        m = await uow.session.get(Matter, matter_id, with_for_update=True)
        if m is None:
            raise _not_found()
        in_scope(principal, m.community)
        try:
            await apply_regrade(
                uow,
                m,
                by=principal.sub,
                who=principal.words(),
                who_en=principal.words_en(),
                level=body.level,
                route=body.route,
                category=body.category,
                reason=body.reason,
            )
        except RegradeError as exc:
            raise Problem(exc.status, exc.zh, exc.en, field=exc.field) from exc
        await uow.commit()
        return await _detail(uow.session, m)


@router.post("/matters/{matter_id}/review", response_model=MatterDetail, summary="Confirm a grade (复核确认)")
async def review_matter(
    matter_id: str,
    body: ReviewIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("matter.regrade"))],
) -> MatterDetail:
    """Clear needs_review without changing the grade; audited as a confirmation (a training label)."""
    if not body.accept:
        raise Problem(
            422, "如需修改分级，请使用人工改判", "To change the grade, use the regrade endpoint", field="accept"
        )
    async with ctx.bus.uow(actor=principal.sub) as uow:
        m = await uow.session.get(Matter, matter_id, with_for_update=True)
        if m is None:
            raise _not_found()
        in_scope(principal, m.community)
        try:
            await confirm_grade(
                uow,
                m,
                by=principal.sub,
                who=principal.words(),
                who_en=principal.words_en(),
                note=(body.note or "").strip() or None,
            )
        except RegradeError as exc:
            raise Problem(exc.status, exc.zh, exc.en, field=exc.field) from exc
        await uow.commit()
        return await _detail(uow.session, m)


@router.post("/matters/{matter_id}/merge", response_model=MatterDetail, summary="Merge matters (合并事项)")
async def merge_matter(
    matter_id: str,
    body: MergeIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("matter.merge"))],
) -> MatterDetail:
    """Merge this matter into `into` (same community, both open): its reports follow; audited; idempotent.

    Emits matter.merged.v1 (ledger closes the entry as merged, meeting drops agenda items, intake moves the
    reports) and matter.triaged.v1 for the survivor. Answers with the surviving matter.
    """
    async with ctx.bus.uow(actor=principal.sub) as uow:
        m = await uow.session.get(Matter, matter_id)
        if m is None:
            raise _not_found()
        in_scope(principal, m.community)
        try:
            survivor, _ = await regroup.merge(
                uow,
                matter_id,
                body.into.strip(),
                by=principal.sub,
                who=principal.words(),
                who_en=principal.words_en(),
                reason=body.reason,
            )
        except RegradeError as exc:
            raise Problem(exc.status, exc.zh, exc.en, field=exc.field) from exc
        await uow.commit()
        return await _detail(uow.session, survivor)


@router.post("/matters/{matter_id}/split", response_model=MatterDetail, summary="Split a matter (拆分事项)")
async def split_matter(
    matter_id: str,
    body: SplitIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("matter.merge"))],
) -> MatterDetail:
    """Move `report_ids` to a new matter, graded like any (matter.triaged.v1); audited; idempotent.

    Emits matter.split.v1 (intake shows the reports under the new matter, the ledger notes it). Answers with
    the new matter.
    """
    async with ctx.bus.uow(actor=principal.sub) as uow:
        m = await uow.session.get(Matter, matter_id)
        if m is None:
            raise _not_found()
        in_scope(principal, m.community)
        try:
            new, _ = await regroup.split(
                uow,
                matter_id,
                body.report_ids,
                by=principal.sub,
                who=principal.words(),
                who_en=principal.words_en(),
                reason=body.reason,
            )
        except RegradeError as exc:
            raise Problem(exc.status, exc.zh, exc.en, field=exc.field) from exc
        await uow.commit()
        return await _detail(uow.session, new)


@router.post("/preview", response_model=GradeOut, summary="Grade a text without storing it (分级预览)")
async def preview(body: PreviewIn, principal: Annotated[Principal, Depends(require("matter.read"))]) -> GradeOut:
    """What triage would decide for a text (rules, plus the model when loaded); nothing is stored or emitted."""
    extra = None
    if body.community:
        community = load_directory().community(body.community)
        if community is None:
            raise Problem(
                422, f"未知社区「{body.community}」", f"Unknown community {body.community!r}", field="community"
            )
        in_scope(principal, community.code)
        extra = phrase_additions(community)
    g = grade(
        body.text,
        channel=body.channel,
        kind_hint=body.kind,
        category_hint=body.category_hint,
        households=body.households,
        reporters=body.reporters,
        extra=extra,
    )
    return GradeOut(
        level=g.level,
        level_label=LEVEL_LABELS[g.level],
        route=g.route,
        route_label=ROUTE_LABELS[g.route],
        kind=g.kind,
        category=g.category,
        category_label=CATEGORY_LABELS.get(g.category, g.category),
        reasons=[str(r) for r in g.reasons],
        reasons_en=list(g.reasons_en),
        confidence=g.confidence,
        needs_review=g.needs_review,
    )
