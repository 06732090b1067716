"""HTTP routes of ownervotes: parse, call ownervotes, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from services.feedback import ownervote_rules
from services.feedback.models import MatterView, OwnerRoll, OwnerVote, UsedLink
from services.feedback.ownervotes import (
    BALLOT_PURPOSE,
    Area,
    OwnerVoteIn,
    VoteReport,
    ballots_of,
    closed,
    electorate,
    load_vote,
    record_ballot,
    report,
    roll_of,
    verify_ballot,
)
from services.feedback.questionnaire import signer
from services.feedback.service import clean_household, household_ref
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, public, require, scope_filter
from services.runtime.export import Keyword, like
from services.runtime.pages import Limit, Offset, Page
from services.runtime.privacy import public_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["feedback: owners' votes"])


BALLOT_LINK = "owners vote through a signed one-time ballot link (HMAC, single use, expiring)"


VoteId = Annotated[str, Path(min_length=1, max_length=40)]


class BallotIn(BaseModel):
    """One owner's ballot as staff record it (paper ballot or in person)."""

    household: str = Field(min_length=1, max_length=64)
    area_m2: Area
    choice: Literal["for", "against", "abstain"]

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return clean_household(v)


class BallotOut(BaseModel):
    """A recorded ballot (the owner as a pseudonymous reference)."""

    ballot_id: str
    vote_id: str
    owner_ref: str


@router.post(
    "/matters/{matter_id}/owner-votes",
    status_code=201,
    response_model=VoteReport,
    summary="Open an owners' vote (业主共同决定事项)",
)
async def open_vote(
    matter_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: OwnerVoteIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("vote.manage"))],
) -> VoteReport:
    """Open a vote on a matter for the owners of the given buildings (or the given totals)."""
    in_scope(principal, body.community)
    total_area, total_owners, scope = electorate(body)
    async with ctx.db.session() as s:
        # Only a matter this service knows in the vote's community: another community's matter answers exactly
        # like an unknown id (no hint that it exists).
        view = await s.get(MatterView, matter_id)
        if view is None or view.community != body.community:
            raise Problem(404, "未找到该事项", "Matter not found")
        vote = OwnerVote(
            id=f"ovt_{uuid.uuid4().hex[:20]}",
            matter_id=matter_id,
            community=body.community,
            question=body.question.strip(),
            item=body.item,
            kind=ownervote_rules.kind_of(body.item),
            total_area_m2=ownervote_rules.decimal_text(total_area),
            total_owners=total_owners,
            scope=scope,
            status="open",
            opened_by=principal.sub,
            opened_at=dt.datetime.now(dt.UTC),
        )
        s.add(vote)
        await s.commit()
        await s.refresh(vote)
        return report(vote, [])


@router.post(
    "/owner-votes/{vote_id}/ballots", status_code=201, response_model=BallotOut, summary="Record a ballot (一户一票)"
)
async def cast_ballot(
    vote_id: VoteId,
    body: BallotIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ballot.record"))],
) -> BallotOut:
    """Record one owner's ballot while the vote is open; one ballot per owner."""
    async with ctx.db.session() as s:
        vote = await load_vote(s, vote_id, principal, lock=True)
        ref = household_ref(vote.community, body.household)
        ballot = await record_ballot(s, vote, ref, body.area_m2, body.choice, recorded_by=principal.sub)
        await s.commit()
    return BallotOut(ballot_id=ballot.id, vote_id=vote_id, owner_ref=ref)


class OwnerIn(BaseModel):
    """An owner to invite, with their exclusive area."""

    household: str = Field(min_length=1, max_length=64)
    area_m2: Area

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return clean_household(v)


class BallotLinksIn(BaseModel):
    """Owners to invite to vote, one link each."""

    owners: list[OwnerIn] = Field(min_length=1, max_length=500)
    expires_hours: int = Field(168, ge=1, le=720)


class BallotLinksOut(BaseModel):
    """One link per owner, path /v1/b/{token}."""

    vote_id: str
    expires_at: dt.datetime
    links: list[dict[str, str]]


class BallotForm(BaseModel):
    """What an owner sees behind their link: the question and the choices (never anybody's ballot)."""

    vote_id: str
    question: str
    kind_label: str
    scope: str
    area_m2: str
    expires_at: dt.datetime
    choices: list[dict[str, str]]


class BallotAnswer(BaseModel):
    """An owner's choice through their link."""

    choice: Literal["for", "against", "abstain"]


@router.post(
    "/owner-votes/{vote_id}/links",
    status_code=201,
    response_model=BallotLinksOut,
    summary="Invite owners to vote by one-time link",
)
async def issue_ballot_links(
    vote_id: VoteId,
    body: BallotLinksIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("vote.manage"))],
) -> BallotLinksOut:
    """Put each owner on the vote's roll with their area and give them a single-use link."""
    now = dt.datetime.now(dt.UTC)
    async with ctx.db.session() as s:
        vote = await load_vote(s, vote_id, principal, lock=True)
        if vote.status != "open":
            raise Problem(409, "表决已结束", "The vote is closed")
        refs = [household_ref(vote.community, o.household) for o in body.owners]
        if len(set(refs)) != len(refs):
            raise Problem(422, "业主重复", "An owner appears twice", field="owners")
        total = ownervote_rules.area(vote.total_area_m2)
        for ref, owner in zip(refs, body.owners, strict=True):
            if ownervote_rules.area(owner.area_m2) > total:
                raise Problem(422, "面积超过表决范围总面积", "Area exceeds the total exclusive area", field="owners")
            row = await s.get(OwnerRoll, (vote_id, ref))
            if row is None:
                s.add(
                    OwnerRoll(
                        vote_id=vote_id, owner_ref=ref, area_m2=str(owner.area_m2), added_by=principal.sub, added_at=now
                    )
                )
            else:
                row.area_m2 = str(owner.area_m2)
        await s.commit()
    ttl = dt.timedelta(hours=body.expires_hours)
    links = []
    for ref, owner in zip(refs, body.owners, strict=True):
        token, link = signer().issue(purpose=BALLOT_PURPOSE, subject=vote_id, audience=ref, ttl=ttl, now=now)
        links.append({"household": owner.household, "owner_ref": ref, "path": f"/v1/b/{token}"})
    return BallotLinksOut(vote_id=vote_id, expires_at=link.expires_at, links=links)


Token = Annotated[str, Path(min_length=10, max_length=1024)]


@router.get(
    "/b/{token}",
    response_model=BallotForm,
    summary="An owner's ballot (public, one-time link)",
    dependencies=[Depends(public(BALLOT_LINK))],
)
async def get_ballot(token: Token, ctx: Ctx) -> BallotForm:
    """The question and the choices for the owner the link was made for."""
    link = verify_ballot(token)
    async with ctx.db.session() as s:
        vote, row = await roll_of(s, link)
        return BallotForm(
            vote_id=vote.id,
            question=public_text(vote.question),
            kind_label=ownervote_rules.KIND_ZH[vote.kind],
            scope=public_text(vote.scope),
            area_m2=row.area_m2,
            expires_at=link.expires_at,
            choices=[{"value": k, "label": v} for k, v in ownervote_rules.CHOICE_ZH.items()],
        )


@router.post(
    "/b/{token}",
    status_code=201,
    summary="Cast a ballot (public, one-time link)",
    dependencies=[Depends(public(BALLOT_LINK))],
)
async def post_ballot(token: Token, body: BallotAnswer, ctx: Ctx) -> dict[str, str | bool]:
    """Record the owner's ballot once; the answer is a receipt, never the running count."""
    link = verify_ballot(token)
    async with ctx.db.session() as s:
        await s.exec(select(OwnerVote).where(OwnerVote.id == link.subject).with_for_update())  # serialise ballots
        vote, row = await roll_of(s, link)
        try:
            async with s.begin_nested():
                s.add(
                    UsedLink(
                        nonce=link.nonce, purpose=link.purpose, subject=link.subject, used_at=dt.datetime.now(dt.UTC)
                    )
                )
        except IntegrityError as exc:
            raise Problem(409, "该链接已使用过", "This link has already been used") from exc
        await record_ballot(s, vote, link.audience, row.area_m2, body.choice, recorded_by="owner-link")
        await s.commit()
    return {"recorded": True, "message": "投票已记录，感谢参与！ / Your ballot is recorded. Thank you."}


@router.post("/owner-votes/{vote_id}/close", response_model=VoteReport, summary="Close a vote and report (计票)")
async def close_vote(
    vote_id: VoteId, ctx: Ctx, principal: Annotated[Principal, Depends(require("vote.manage"))]
) -> VoteReport:
    """Close the vote (idempotent) and report whether each legal threshold is met; the result goes to the ledger."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        vote = await load_vote(uow.session, vote_id, principal, lock=True)
        ballots = await ballots_of(uow.session, vote_id)
        if vote.status != "closed":
            vote.status, vote.closed_at = "closed", dt.datetime.now(dt.UTC)
            uow.session.add(vote)
            out = report(vote, ballots)
            # The ledger puts the result on the matter's entry timeline (owner_vote.closed.v1).
            await uow.emit("owner_vote.closed.v1", community=vote.community, subject=vote.matter_id, data=closed(out))
            await uow.commit()
        return report(vote, ballots)


@router.get("/owner-votes/{vote_id}", response_model=VoteReport, summary="A vote's tallies (表决统计)")
async def get_vote(
    vote_id: VoteId, ctx: Ctx, principal: Annotated[Principal, Depends(require("evaluation.read"))]
) -> VoteReport:
    """The vote's tallies and threshold checks (aggregates only; never who voted what)."""
    async with ctx.db.session() as s:
        vote = await load_vote(s, vote_id, principal)
        return report(vote, await ballots_of(s, vote_id))


@router.get("/owner-votes", response_model=Page[VoteReport], summary="Owners' votes (业主表决列表)")
async def list_votes(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("evaluation.read"))],
    community: str | None = Query(None, max_length=64),
    status: Literal["open", "closed"] | None = None,
    q: Keyword = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[VoteReport]:
    """Votes of the communities the caller may see, newest first, each with its tallies (aggregates only)."""
    conds = [scope_filter(principal, OwnerVote.community, community)]
    if status:
        conds.append(OwnerVote.status == status)
    if q and q.strip():
        conds.append(OwnerVote.question.like(like(q), escape="\\"))
    query = select(OwnerVote).where(*conds).order_by(OwnerVote.opened_at.desc(), OwnerVote.id)
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(OwnerVote).where(*conds))).one()
        rows = (await s.exec(query.offset(offset).limit(limit))).all()
        items = [report(v, await ballots_of(s, v.id)) for v in rows]
    return Page[VoteReport](items=items, total=total, limit=limit, offset=offset)
