"""Owners' votes under Civil Code art. 278 (e.g. installing an elevator): open, record ballots, close, report."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.feedback import ownervote_rules
from services.feedback.models import Ballot, MatterView, OwnerRoll, OwnerVote, UsedLink
from services.feedback.questionnaire import signer
from services.feedback.recording import clean_household, household_ref
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, public, require, scope_filter
from services.runtime.directory import load_directory
from services.runtime.export import Keyword, like
from services.runtime.links import Expired, Forged, Link
from services.runtime.pages import Limit, Offset, Page
from services.runtime.privacy import public_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["feedback: owners' votes"])
BALLOT_LINK = "owners vote through a signed one-time ballot link (HMAC, single use, expiring)"

Area = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, description="m², e.g. 98.56")]
VoteId = Annotated[str, Path(min_length=1, max_length=40)]
BALLOT_PURPOSE = "feedback.owner_vote"


class OwnerVoteIn(BaseModel):
    """A vote to open: the question, its kind, and who may vote (buildings from the directory, or totals)."""

    community: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=500)
    item: int = Field(
        ge=1,
        le=9,
        description="Item of Civil Code art. 278 §1 (1-9); items 6-8 need three quarters, the others more than half",
    )
    compound: str | None = Field(None, max_length=64, description="Compound code; with buildings")
    buildings: list[str] = Field(default_factory=list, max_length=100, description="Building codes in the compound")
    total_area_m2: Area | None = None
    total_owners: int | None = Field(None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _electorate(self) -> OwnerVoteIn:
        from_directory = bool(self.buildings)
        given = self.total_area_m2 is not None and self.total_owners is not None
        if from_directory == given:
            raise ValueError(
                "请给出楼栋（compound + buildings）或总面积与总户数之一 / "
                "Give either compound + buildings or total_area_m2 + total_owners"
            )
        if from_directory and not self.compound:
            raise ValueError("按楼栋统计须给出小区 / buildings need a compound")
        return self


class BallotIn(BaseModel):
    """One owner's ballot as staff record it (paper ballot or in person)."""

    household: str = Field(min_length=1, max_length=64)
    area_m2: Area
    choice: Literal["for", "against", "abstain"]

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return clean_household(v)


class ChoiceOut(BaseModel):
    """Head-count and area of one choice."""

    choice: str
    label: str
    owners: int
    area_m2: str
    area_exact: str


class CheckOut(BaseModel):
    """One legal threshold with its exact numbers."""

    name: str
    label: str
    numerator: str
    denominator: str
    share: str | None = Field(description="numerator / denominator as an exact fraction 'n/d'")
    bound: str
    comparison: Literal[">=", ">"]
    met: bool


class VoteReport(BaseModel):
    """Where a vote stands: tallies, each threshold, and whether the owners decided in favour."""

    vote_id: str
    matter_id: str
    community: str
    question: str
    item: int | None
    item_label: str | None
    kind: str
    kind_label: str
    scope: str
    status: str
    total_area_m2: str
    total_owners: int
    voted_area_m2: str
    voted_owners: int
    choices: list[ChoiceOut]
    checks: list[CheckOut]
    participation_met: bool
    passed: bool
    conclusion: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None


class BallotOut(BaseModel):
    """A recorded ballot (the owner as a pseudonymous reference)."""

    ballot_id: str
    vote_id: str
    owner_ref: str


def _exact(value: Fraction) -> str:
    return ownervote_rules.fraction_text(value) or "0"


async def _ballots(s: AsyncSession, vote_id: str) -> list[Ballot]:
    return list((await s.exec(select(Ballot).where(Ballot.vote_id == vote_id).order_by(Ballot.recorded_at))).all())


def report(vote: OwnerVote, ballots: list[Ballot]) -> VoteReport:
    """The vote's report from its ballots (pure: recomputed every time, never stored)."""
    t = ownervote_rules.tally(
        [ownervote_rules.Ballot(b.owner_ref, ownervote_rules.area(b.area_m2), b.choice) for b in ballots],
        kind=vote.kind,
        total_area=ownervote_rules.area(vote.total_area_m2),
        total_owners=vote.total_owners,
    )
    if vote.status != "closed":
        conclusion = "表决进行中（结果为截至目前的统计） / Voting is open: figures so far"
    elif t.passed:
        conclusion = "表决通过 / Adopted"
    elif not t.participation_met:
        conclusion = "参与表决的业主不足法定比例，表决无效 / Too few owners took part: no decision"
    else:
        conclusion = "同意票未达法定比例，表决未通过 / Not adopted"
    return VoteReport(
        vote_id=vote.id,
        matter_id=vote.matter_id,
        community=vote.community,
        question=vote.question,
        item=vote.item,
        item_label=ownervote_rules.item_label(vote.item) if vote.item else None,
        kind=vote.kind,
        kind_label=ownervote_rules.KIND_ZH[vote.kind],
        scope=vote.scope,
        status=vote.status,
        total_area_m2=vote.total_area_m2,
        total_owners=vote.total_owners,
        voted_area_m2=ownervote_rules.decimal_text(t.voted_area),
        voted_owners=t.voted_owners,
        choices=[
            ChoiceOut(
                choice=c,
                label=ownervote_rules.CHOICE_ZH[c],
                owners=t.owners_by_choice[c],
                area_m2=ownervote_rules.decimal_text(t.area_by_choice[c]),
                area_exact=_exact(t.area_by_choice[c]),
            )
            for c in ownervote_rules.CHOICES
        ],
        checks=[
            CheckOut(
                name=c.name,
                label=c.label_zh,
                numerator=_exact(c.numerator),
                denominator=_exact(c.denominator),
                share=ownervote_rules.fraction_text(c.value),
                bound=_exact(c.bound),
                comparison=">" if c.strict else ">=",
                met=c.met,
            )
            for c in t.checks
        ],
        participation_met=t.participation_met,
        passed=t.passed,
        conclusion=conclusion,
        opened_at=vote.opened_at,
        closed_at=vote.closed_at,
    )


def _electorate(body: OwnerVoteIn) -> tuple[Fraction, int, str]:
    """Total exclusive area, owners and a scope label: from the directory's buildings, or as given."""
    if not body.buildings:
        assert body.total_area_m2 is not None and body.total_owners is not None
        return ownervote_rules.area(body.total_area_m2), body.total_owners, ""
    community = load_directory().community(body.community)
    compound = community.compound(body.compound or "") if community else None
    if compound is None:
        raise Problem(422, "目录中没有该小区", "No such compound in the directory", field="compound")
    area, owners, names = Fraction(0), 0, []
    for code in dict.fromkeys(body.buildings):
        b = compound.building(code)
        if b is None or not b.area_m2 or not b.households:
            raise Problem(
                422,
                f"楼栋「{code}」不在目录中或缺少面积、户数",
                f"Building {code!r} is unknown or lacks area_m2 / households in the directory",
                field="buildings",
            )
        area += ownervote_rules.area(str(b.area_m2))
        owners += b.households
        names.append(b.name)
    return area, owners, f"{compound.name} {'、'.join(names)}"[:200]


async def _vote(s: AsyncSession, vote_id: str, principal: Principal, *, lock: bool = False) -> OwnerVote:
    q = select(OwnerVote).where(OwnerVote.id == vote_id)
    if lock:
        q = q.with_for_update()
    vote = (await s.exec(q)).first()
    unknown = Problem(404, "未找到该表决", "No such vote")
    if vote is None:
        raise unknown
    in_scope(principal, vote.community, unknown)
    return vote


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
    total_area, total_owners, scope = _electorate(body)
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


async def _record_ballot(
    s: AsyncSession, vote: OwnerVote, ref: str, area_m2: Decimal | str, choice: str, *, recorded_by: str
) -> Ballot:
    """Add one owner's ballot to an open vote (no commit): one per owner, within the electorate."""
    if vote.status != "open":
        raise Problem(409, "表决已结束", "The vote is closed")
    ballots = await _ballots(s, vote.id)
    duplicate = Problem(409, "该业主已投过票（一户一票）", "This owner has already voted", field="household")
    if any(b.owner_ref == ref for b in ballots):
        raise duplicate
    voted = sum((ownervote_rules.area(b.area_m2) for b in ballots), Fraction(0)) + ownervote_rules.area(area_m2)
    if len(ballots) + 1 > vote.total_owners or voted > ownervote_rules.area(vote.total_area_m2):
        raise Problem(
            422,
            "选票的户数或面积超过表决范围的总数",
            "Ballots would exceed the electorate's owners or total exclusive area",
            field="area_m2",
        )
    ballot = Ballot(
        id=f"blt_{uuid.uuid4().hex[:20]}",
        vote_id=vote.id,
        owner_ref=ref,
        area_m2=str(area_m2),
        choice=choice,
        recorded_by=recorded_by,
        recorded_at=dt.datetime.now(dt.UTC),
    )
    try:
        async with s.begin_nested():
            s.add(ballot)
    except IntegrityError as exc:
        raise duplicate from exc
    return ballot


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
        vote = await _vote(s, vote_id, principal, lock=True)
        ref = household_ref(vote.community, body.household)
        ballot = await _record_ballot(s, vote, ref, body.area_m2, body.choice, recorded_by=principal.sub)
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
        vote = await _vote(s, vote_id, principal, lock=True)
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


def _verify_ballot(token: str) -> Link:
    try:
        return signer().verify(token, purposes=(BALLOT_PURPOSE,))
    except Forged as exc:
        raise Problem(404, "未找到", "Not found") from exc
    except Expired as exc:
        raise Problem(410, "链接已过期", "The link has expired") from exc


async def _roll(s: AsyncSession, link: Link) -> tuple[OwnerVote, OwnerRoll]:
    vote = await s.get(OwnerVote, link.subject)
    row = await s.get(OwnerRoll, (link.subject, link.audience))
    if vote is None or row is None:
        raise Problem(404, "未找到", "Not found")
    if await s.get(UsedLink, link.nonce) is not None:
        raise Problem(409, "该链接已使用过", "This link has already been used")
    if vote.status != "open":
        raise Problem(409, "表决已结束", "The vote is closed")
    return vote, row


Token = Annotated[str, Path(min_length=10, max_length=1024)]


@router.get(
    "/b/{token}",
    response_model=BallotForm,
    summary="An owner's ballot (public, one-time link)",
    dependencies=[Depends(public(BALLOT_LINK))],
)
async def get_ballot(token: Token, ctx: Ctx) -> BallotForm:
    """The question and the choices for the owner the link was made for."""
    link = _verify_ballot(token)
    async with ctx.db.session() as s:
        vote, row = await _roll(s, link)
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
    link = _verify_ballot(token)
    async with ctx.db.session() as s:
        await s.exec(select(OwnerVote).where(OwnerVote.id == link.subject).with_for_update())  # serialise ballots
        vote, row = await _roll(s, link)
        try:
            async with s.begin_nested():
                s.add(
                    UsedLink(
                        nonce=link.nonce, purpose=link.purpose, subject=link.subject, used_at=dt.datetime.now(dt.UTC)
                    )
                )
        except IntegrityError as exc:
            raise Problem(409, "该链接已使用过", "This link has already been used") from exc
        await _record_ballot(s, vote, link.audience, row.area_m2, body.choice, recorded_by="owner-link")
        await s.commit()
    return {"recorded": True, "message": "投票已记录，感谢参与！ / Your ballot is recorded. Thank you."}


@router.post("/owner-votes/{vote_id}/close", response_model=VoteReport, summary="Close a vote and report (计票)")
async def close_vote(
    vote_id: VoteId, ctx: Ctx, principal: Annotated[Principal, Depends(require("vote.manage"))]
) -> VoteReport:
    """Close the vote (idempotent) and report whether each legal threshold is met; the result goes to the ledger."""
    async with ctx.bus.uow(actor=principal.sub) as uow:
        vote = await _vote(uow.session, vote_id, principal, lock=True)
        ballots = await _ballots(uow.session, vote_id)
        if vote.status != "closed":
            vote.status, vote.closed_at = "closed", dt.datetime.now(dt.UTC)
            uow.session.add(vote)
            out = report(vote, ballots)
            # The ledger puts the result on the matter's entry timeline (owner_vote.closed.v1).
            await uow.emit("owner_vote.closed.v1", community=vote.community, subject=vote.matter_id, data=closed(out))
            await uow.commit()
        return report(vote, ballots)


def closed(out: VoteReport) -> events.OwnerVoteClosed:
    """The event of a closed vote: aggregates only, never who voted what."""
    yes = next(c for c in out.choices if c.choice == "for")
    return events.OwnerVoteClosed(
        vote_id=out.vote_id,
        matter_id=out.matter_id,
        item=out.item,
        rule=out.kind,
        question=out.question,
        passed=out.passed,
        participation_met=out.participation_met,
        total_owners=out.total_owners,
        voted_owners=out.voted_owners,
        for_owners=yes.owners,
        total_area_m2=out.total_area_m2,
        voted_area_m2=out.voted_area_m2,
        for_area_m2=yes.area_m2,
        closed_at=out.closed_at or dt.datetime.now(dt.UTC),
    )


@router.get("/owner-votes/{vote_id}", response_model=VoteReport, summary="A vote's tallies (表决统计)")
async def get_vote(
    vote_id: VoteId, ctx: Ctx, principal: Annotated[Principal, Depends(require("evaluation.read"))]
) -> VoteReport:
    """The vote's tallies and threshold checks (aggregates only; never who voted what)."""
    async with ctx.db.session() as s:
        vote = await _vote(s, vote_id, principal)
        return report(vote, await _ballots(s, vote_id))


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
        items = [report(v, await _ballots(s, v.id)) for v in rows]
    return Page[VoteReport](items=items, total=total, limit=limit, offset=offset)
