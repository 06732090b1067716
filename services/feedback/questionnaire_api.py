"""HTTP routes of questionnaire: parse, call questionnaire, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.contracts.vocabulary import Rating, Solved
from services.feedback import domain
from services.feedback.handlers import PENDING_STATUSES, matter_round, revisit_of
from services.feedback.models import EvaluationRow, MatterView, UsedLink
from services.feedback.questionnaire import PURPOSES, link_used, signer, verify_link
from services.feedback.service import Voice, clean_household, household_ref, open_round, record_voices
from services.runtime.auth import Principal
from services.runtime.authz import public, require
from services.runtime.privacy import public_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["feedback: residents' links"])


QUESTIONNAIRE_LINK = "households answer through a signed one-time link (HMAC, single use, expiring)"


METHOD_OF = {v: k for k, v in PURPOSES.items()}


MAX_LINKS = 500


SUMMARY_CHARS = 200


SOLVED_LABELS_ZH = {"solved": "已解决", "partly": "部分解决", "unsolved": "未解决"}


class LinksIn(BaseModel):
    """Households to invite, one link each."""

    households: list[str] = Field(min_length=1, max_length=MAX_LINKS, description="Addresses, e.g. 景湖花园7-1-301")
    expires_hours: int = Field(72, ge=1, le=720)
    method: Literal["questionnaire", "wechat_vote"] = "questionnaire"

    @field_validator("households")
    @classmethod
    def _clean(cls, v: list[str]) -> list[str]:
        cleaned = [clean_household(h) for h in v]
        if any(len(h) > 64 for h in cleaned):
            raise ValueError("户地址过长（最多 64 字） / Household address too long (64 max)")
        return cleaned


class LinkOut(BaseModel):
    """One household's link; hand it to that household only."""

    household: str
    household_ref: str
    path: str


class LinksOut(BaseModel):
    """The links issued for a matter's open round."""

    matter_id: str
    round: int
    method: str
    expires_at: dt.datetime
    links: list[LinkOut]


class Choice(BaseModel):
    """One option of a form field."""

    value: str
    label: str


class FormField(BaseModel):
    """One field of the form the console renders."""

    name: str
    label: str
    required: bool
    options: list[Choice] = []
    max_length: int | None = None


class FormOut(BaseModel):
    """What a household sees behind its link: the matter, what was done and the form; nothing about others."""

    matter_id: str
    title: str
    measures_summary: str | None
    round: int
    method: str
    expires_at: dt.datetime
    form: list[FormField]


class AnswerIn(BaseModel):
    """A household's answer through its link."""

    rating: Rating
    solved: Solved | None = None
    comment: str = Field("", max_length=500)


class AnswerOut(BaseModel):
    """The receipt of an answer (the round's standing stays with staff)."""

    recorded: bool
    message: str


class VoteCount(BaseModel):
    """The count of one answer."""

    value: str
    label: str
    count: int


class VoteTally(BaseModel):
    """A closed WeChat vote's counts, nothing else."""

    matter_id: str
    title: str
    round: int
    total: int
    ratings: list[VoteCount]
    solved: list[VoteCount]


FORM = [
    FormField(
        name="rating",
        label="您对处理结果是否满意？ / Are you satisfied with the result?",
        required=True,
        options=[Choice(value=k, label=v) for k, v in domain.RATING_LABELS_ZH.items()],
    ),
    FormField(
        name="solved",
        label="问题是否已解决？ / Is the problem solved?",
        required=False,
        options=[Choice(value=k, label=v) for k, v in SOLVED_LABELS_ZH.items()],
    ),
    FormField(name="comment", label="意见建议（选填） / Comments (optional)", required=False, max_length=500),
]


Token = Annotated[str, Path(min_length=10, max_length=1024)]


@router.post(
    "/matters/{matter_id}/questionnaire-links",
    status_code=201,
    response_model=LinksOut,
    summary="Issue one-time links to households (调查问卷 / 微信投票)",
)
async def issue_links(
    matter_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: LinksIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("link.issue"))],
) -> LinksOut:
    """One signed, single-use link per household for the matter's open round (addresses are not stored)."""
    async with ctx.db.session() as s:
        mr, revisit = await open_round(s, matter_id, principal)
        community, round = mr.community, mr.round
        refs = [household_ref(community, h) for h in body.households]
        if len(set(refs)) != len(refs):
            raise Problem(422, "户地址重复", "A household appears twice", field="households")
        # Inviting N households shows at least N are affected: the round then waits for enough of their voices.
        if len(refs) > revisit.households:
            revisit.households = len(refs)
            await s.commit()
    purpose = PURPOSES[body.method]
    ttl = dt.timedelta(hours=body.expires_hours)
    now = dt.datetime.now(dt.UTC)
    links = []
    for household, ref in zip(body.households, refs, strict=True):
        token, link = signer().issue(purpose=purpose, subject=matter_id, audience=ref, ttl=ttl, now=now)
        links.append(LinkOut(household=household, household_ref=ref, path=f"/v1/q/{token}"))
    return LinksOut(matter_id=matter_id, round=round, method=body.method, expires_at=link.expires_at, links=links)


@router.get(
    "/q/{token}",
    response_model=FormOut,
    summary="A household's questionnaire (public, one-time link)",
    dependencies=[Depends(public(QUESTIONNAIRE_LINK))],
)
async def get_form(token: Token, ctx: Ctx) -> FormOut:
    """The matter's title, what was done and the form, for the household the link was made for."""
    link = verify_link(token)
    async with ctx.db.session() as s:
        if await s.get(UsedLink, link.nonce) is not None:
            raise link_used()
        mr, revisit = await open_round(s, link.subject, None)
        view = await s.get(MatterView, link.subject)
        title = public_text(view.title) if view else "本事项"
        round, measures = mr.round, public_text(revisit.measures)
    if measures and len(measures) > SUMMARY_CHARS:
        measures = measures[: SUMMARY_CHARS - 1] + "…"
    return FormOut(
        matter_id=link.subject,
        title=title,
        measures_summary=measures,
        round=round,
        method=METHOD_OF[link.purpose],
        expires_at=link.expires_at,
        form=FORM,
    )


@router.post(
    "/q/{token}",
    status_code=201,
    response_model=AnswerOut,
    summary="Answer a questionnaire (public)",
    dependencies=[Depends(public(QUESTIONNAIRE_LINK))],
)
async def post_answer(token: Token, body: AnswerIn, ctx: Ctx) -> AnswerOut:
    """Record the household's evaluation once; a used link answers 409."""
    link = verify_link(token)
    async with ctx.bus.uow(actor="resident-link") as uow:
        s = uow.session
        if await s.get(UsedLink, link.nonce) is not None:
            raise link_used()
        mr, revisit = await open_round(s, link.subject, None)
        try:
            async with s.begin_nested():
                s.add(
                    UsedLink(
                        nonce=link.nonce, purpose=link.purpose, subject=link.subject, used_at=dt.datetime.now(dt.UTC)
                    )
                )
        except IntegrityError as exc:
            raise link_used() from exc
        voice = Voice(
            household_ref=link.audience,
            rating=body.rating,
            method=METHOD_OF[link.purpose],
            solved=body.solved,
            comment=body.comment,
        )
        await record_voices(uow, mr, revisit, [voice], recorded_by="resident-link")
        await uow.commit()
    return AnswerOut(recorded=True, message="感谢您的评价！ / Thank you for your evaluation.")


_TALLY_IS_PUBLIC = Depends(public("counts only, and only after the vote has closed; no household is shown"))


@router.get(
    "/wechat-votes/{matter_id}",
    response_model=VoteTally,
    summary="A closed WeChat vote's counts (public)",
    dependencies=[_TALLY_IS_PUBLIC],
)
# The path before WeChat votes (微信投票) and owners' votes (/v1/owner-votes) had distinct names; kept as an alias.
@router.get(
    "/votes/{matter_id}",
    response_model=VoteTally,
    summary="A closed WeChat vote's counts (public; old path of /v1/wechat-votes/{matter_id})",
    deprecated=True,
    dependencies=[_TALLY_IS_PUBLIC],
)
async def vote_tally(matter_id: Annotated[str, Path(min_length=1, max_length=64)], ctx: Ctx) -> VoteTally:
    """Counts of the latest closed round with WeChat votes; nothing while voting is open, never who voted what."""
    async with ctx.db.session() as s:
        mr = await matter_round(s, matter_id)
        q = select(EvaluationRow.round, EvaluationRow.rating, EvaluationRow.solved).where(
            EvaluationRow.matter_id == matter_id, EvaluationRow.method == "wechat_vote"
        )
        rows = (await s.exec(q)).all()
        view = await s.get(MatterView, matter_id)
        closed_rounds = []
        for rnd in sorted({r[0] for r in rows}, reverse=True):
            revisit = await revisit_of(s, matter_id, rnd)
            if (mr is not None and mr.closed) or revisit is None or revisit.status not in PENDING_STATUSES:
                closed_rounds.append(rnd)
    if mr is None or not rows:
        raise Problem(404, "未找到该事项的投票", "No vote for this matter")
    if not closed_rounds:
        raise Problem(409, "投票尚未结束，结束后公布结果", "The vote is still open; counts are shown once it closes")
    rnd = closed_rounds[0]
    mine = [r for r in rows if r[0] == rnd]
    return VoteTally(
        matter_id=matter_id,
        title=public_text(view.title) if view else "本事项",
        round=rnd,
        total=len(mine),
        ratings=[
            VoteCount(value=k, label=v, count=sum(1 for r in mine if r[1] == k))
            for k, v in domain.RATING_LABELS_ZH.items()
        ],
        solved=[
            VoteCount(value=k, label=v, count=sum(1 for r in mine if r[2] == k)) for k, v in SOLVED_LABELS_ZH.items()
        ],
    )
