"""Owners' votes under Civil Code art. 278 (e.g. installing an elevator): open, record ballots, close, report."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.feedback import ownervote_rules
from services.feedback.models import Ballot, OwnerRoll, OwnerVote, UsedLink
from services.feedback.questionnaire import signer
from services.runtime.auth import Principal
from services.runtime.authz import in_scope
from services.runtime.directory import load_directory
from services.runtime.errors import Problem
from services.runtime.links import Expired, Forged, Link

Area = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, description="m², e.g. 98.56")]
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
    def electorate(self) -> OwnerVoteIn:
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


def exact(value: Fraction) -> str:
    return ownervote_rules.fraction_text(value) or "0"


async def ballots_of(s: AsyncSession, vote_id: str) -> list[Ballot]:
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
                area_exact=exact(t.area_by_choice[c]),
            )
            for c in ownervote_rules.CHOICES
        ],
        checks=[
            CheckOut(
                name=c.name,
                label=c.label_zh,
                numerator=exact(c.numerator),
                denominator=exact(c.denominator),
                share=ownervote_rules.fraction_text(c.value),
                bound=exact(c.bound),
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


def electorate(body: OwnerVoteIn) -> tuple[Fraction, int, str]:
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


async def load_vote(s: AsyncSession, vote_id: str, principal: Principal, *, lock: bool = False) -> OwnerVote:
    q = select(OwnerVote).where(OwnerVote.id == vote_id)
    if lock:
        q = q.with_for_update()
    vote = (await s.exec(q)).first()
    unknown = Problem(404, "未找到该表决", "No such vote")
    if vote is None:
        raise unknown
    in_scope(principal, vote.community, unknown)
    return vote


async def record_ballot(
    s: AsyncSession, vote: OwnerVote, ref: str, area_m2: Decimal | str, choice: str, *, recorded_by: str
) -> Ballot:
    """Add one owner's ballot to an open vote (no commit): one per owner, within the electorate."""
    if vote.status != "open":
        raise Problem(409, "表决已结束", "The vote is closed")
    ballots = await ballots_of(s, vote.id)
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


def verify_ballot(token: str) -> Link:
    try:
        return signer().verify(token, purposes=(BALLOT_PURPOSE,))
    except Forged as exc:
        raise Problem(404, "未找到", "Not found") from exc
    except Expired as exc:
        raise Problem(410, "链接已过期", "The link has expired") from exc


async def roll_of(s: AsyncSession, link: Link) -> tuple[OwnerVote, OwnerRoll]:
    vote = await s.get(OwnerVote, link.subject)
    row = await s.get(OwnerRoll, (link.subject, link.audience))
    if vote is None or row is None:
        raise Problem(404, "未找到", "Not found")
    if await s.get(UsedLink, link.nonce) is not None:
        raise Problem(409, "该链接已使用过", "This link has already been used")
    if vote.status != "open":
        raise Problem(409, "表决已结束", "The vote is closed")
    return vote, row


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
