"""Recording households' voices (one household, one voice per round) and acting on the round's decision."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import events
from services.contracts.media import safe_photo
from services.contracts.vocabulary import Method, Rating, Solved
from services.feedback import domain
from services.feedback.handlers import PENDING_STATUSES, matter_round, revisit_of
from services.feedback.models import ROUND_OUTCOME_ZH, EvaluationRow, MatterRound, Revisit
from services.runtime.auth import Principal
from services.runtime.authz import in_scope
from services.runtime.directory import load_directory
from services.runtime.errors import Problem
from services.runtime.privacy import Vault, scrub_text
from services.runtime.settings import Settings, get_settings
from services.runtime.uow import UnitOfWork

SATISFACTION_THRESHOLD = 0.8  # 满意率 below this sends the matter back (以评促改)
MIN_VOICES = 3  # voices needed before a round is decided: this many households, or all if fewer are affected
URL_RE = re.compile(r"^https?://[^\s]{1,490}$")

_vault: tuple[Settings, Vault] | None = None


def vault() -> Vault:
    """The process's PII vault (rebuilt when the settings object changes, e.g. in tests)."""
    global _vault
    settings = get_settings()
    if _vault is None or _vault[0] is not settings:
        _vault = (settings, Vault.from_settings(settings))
    return _vault[1]


def household_ref(community: str, household: str) -> str:
    """A stable pseudonym of a household within a community; the raw address is never stored.

    Keyed on domain.household_key, so a household typed twice differently is still one voter.
    """
    found = load_directory().community(community)
    key = domain.household_key(household, found.compounds if found is not None else ())
    return vault().pseudonym(f"household:{community}:{key}", prefix="hh")


def clean_household(v: str) -> str:
    """A household address, stripped; blank is refused."""
    if not v.strip():
        raise ValueError("户不能为空 / Household must not be blank")
    return v.strip()


class Evidence(BaseModel):
    """Proof of a home visit (上门回访): photo URL(s) and/or a reference to the signature image."""

    photos: list[str] = Field(default_factory=list, max_length=9, description="http(s) URLs of photos")
    signature: str | None = Field(None, max_length=500, description="Reference to the household's signature image")

    @field_validator("photos")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not URL_RE.match(url):
                raise ValueError("照片须为 http(s) 链接 / Photos must be http(s) URLs")
        return v

    @field_validator("signature")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v is not None and not safe_photo(v):
            raise ValueError(
                "签名须为 http(s) 链接或平台上传路径 / The signature must be an http(s) URL or an upload path"
            )
        return v

    @model_validator(mode="after")
    def _something(self) -> Evidence:
        if not self.photos and not self.signature:
            raise ValueError("上门回访须有照片或签名 / A home visit needs a photo or a signature")
        return self


class EvaluationIn(BaseModel):
    """One household's evaluation of a completed matter, as a revisitor records it."""

    household: str = Field(min_length=1, max_length=64, description="Household address, e.g. 金泰和庄12-2-301")
    rating: Rating
    solved: Solved | None = None
    is_reporter: bool = Field(False, description="The household raised the matter (原报事人)")
    comment: str = Field("", max_length=500)
    method: Method
    evidence: Evidence | None = Field(None, description="Required for home_visit: photos and/or a signature")

    @field_validator("household")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return clean_household(v)

    @model_validator(mode="after")
    def _evidence_for_home_visit(self) -> EvaluationIn:
        if self.method == "home_visit" and self.evidence is None:
            raise ValueError("上门回访须附照片或签名（evidence） / A home visit needs evidence: photos or a signature")
        return self


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


@dataclass(frozen=True)
class Voice:
    """One household's voice, ready to store (the household already a pseudonym)."""

    household_ref: str
    rating: str
    method: str
    solved: str | None = None
    is_reporter: bool = False
    comment: str = ""
    evidence: dict | None = None


def not_open() -> Problem:
    """The problem for a matter that takes no evaluations now."""
    return Problem(409, "该事项尚未办结或已销号", "The matter is not completed, or already closed: no open revisit")


def matter_not_found() -> Problem:
    """The answer for an unknown matter id and for another community's matter alike."""
    return Problem(404, "未找到该事项的回访记录", "No revisit known for this matter")


async def open_round(s: AsyncSession, matter_id: str, principal: Principal | None) -> tuple[MatterRound, Revisit]:
    """The matter's round (locked) and its pending revisit, or 409; 404 out of the principal's scope."""
    mr = await matter_round(s, matter_id, lock=True)
    if mr is None:
        # Staff: another community's matter answers 404, so an unknown one must answer the same. A signed
        # resident link names a real matter: nothing to hide there, it is just not open.
        raise not_open() if principal is None else matter_not_found()
    if principal is not None:
        in_scope(principal, mr.community, matter_not_found())
    revisit = None if mr.closed else await revisit_of(s, matter_id, mr.round)
    if revisit is None or revisit.status not in PENDING_STATUSES:
        raise not_open()
    return mr, revisit


async def round_rows(session: AsyncSession, matter_id: str, round: int) -> list[EvaluationRow]:
    """A round's evaluations, oldest first."""
    q = (
        select(EvaluationRow)
        .where(EvaluationRow.matter_id == matter_id, EvaluationRow.round == round)
        .order_by(EvaluationRow.recorded_at, EvaluationRow.id)
    )
    return list((await session.exec(q)).all())


def as_domain(rows: Sequence[EvaluationRow]) -> list[domain.Evaluation]:
    """Rows as domain evaluations; the pseudonym stands in for the household, so reasons carry no address."""
    return [
        domain.Evaluation(
            household=e.household_ref, rating=e.rating, solved=e.solved, is_reporter=e.is_reporter, comment=e.comment
        )
        for e in rows
    ]


def decide_rows(rows: Sequence[EvaluationRow], round: int, households: int) -> domain.Decision:
    """The round's decision under the service's threshold and minimum of voices."""
    return domain.decide(
        as_domain(rows),
        round=round,
        threshold=SATISFACTION_THRESHOLD,
        min_evaluations=min(households, MIN_VOICES),
    )


def _duplicate(round: int) -> Problem:
    return Problem(
        409,
        f"该户已在第 {round} 轮评价过（一户一票）",
        f"This household already evaluated round {round} (one household, one voice)",
        field="household",
    )


async def record_voices(
    uow: UnitOfWork, mr: MatterRound, revisit: Revisit, voices: Sequence[Voice], *, recorded_by: str
) -> list[Recorded]:
    """Store voices of distinct households, decide the round once and emit what follows (no commit)."""
    s = uow.session
    refs = [v.household_ref for v in voices]
    if not voices or len(set(refs)) != len(refs):
        raise Problem(422, "每户只能有一条评价", "Each household may appear once", field="evaluations")
    taken = select(EvaluationRow.id).where(
        EvaluationRow.matter_id == mr.matter_id,
        EvaluationRow.round == mr.round,
        EvaluationRow.household_ref.in_(refs),
    )
    if (await s.exec(taken)).first() is not None:
        raise _duplicate(mr.round)
    now = dt.datetime.now(dt.UTC)
    rows = _rows(mr, voices, recorded_by, now)
    try:
        async with s.begin_nested():
            s.add_all(rows)
    except IntegrityError as exc:
        raise _duplicate(mr.round) from exc
    decision = decide_rows(await round_rows(s, mr.matter_id, mr.round), mr.round, revisit.households)
    already_reopened = mr.outcome in ("reopen", "escalate")
    mr.outcome, mr.updated_at = decision.outcome, now
    for row in rows:
        await uow.emit(
            "evaluation.recorded.v1",
            community=mr.community,
            subject=mr.matter_id,
            data=events.EvaluationRecorded(
                evaluation_id=row.id,
                matter_id=mr.matter_id,
                round=mr.round,
                method=row.method,
                rating=row.rating,
                solved=row.solved,
                household_ref=row.household_ref,
                is_reporter=row.is_reporter,
                round_outcome=decision.outcome,
                round_rate=decision.rate,
                recorded_at=now,
            ),
        )
    out = [
        Recorded(
            evaluation_id=row.id,
            matter_id=mr.matter_id,
            round=mr.round,
            household_ref=row.household_ref,
            round_outcome=decision.outcome,
            round_outcome_label=ROUND_OUTCOME_ZH[decision.outcome],
            round_rate=decision.rate,
        )
        for row in rows
    ]
    await _follow_decision(uow, mr, revisit, decision, out, already_reopened, now)
    return out


def _rows(mr: MatterRound, voices: Sequence[Voice], recorded_by: str, now: dt.datetime) -> list[EvaluationRow]:
    """One evaluation row per voice (comments scrubbed of PII)."""
    return [
        EvaluationRow(
            id=f"evl_{uuid.uuid4().hex[:20]}",
            matter_id=mr.matter_id,
            community=mr.community,
            round=mr.round,
            household_ref=v.household_ref,
            rating=v.rating,
            solved=v.solved,
            is_reporter=v.is_reporter,
            comment=scrub_text(v.comment.strip()),
            method=v.method,
            recorded_by=recorded_by,
            recorded_at=now,
            evidence=v.evidence,
        )
        for v in voices
    ]


async def _follow_decision(
    uow: UnitOfWork,
    mr: MatterRound,
    revisit: Revisit,
    decision: domain.Decision,
    out: list[Recorded],
    already_reopened: bool,
    now: dt.datetime,
) -> None:
    """Reopen (or escalate) once when the round is not satisfied; close the revisit when it is decided."""
    if decision.outcome in ("reopen", "escalate") and not already_reopened:
        escalate_to = "party_org" if decision.outcome == "escalate" else None
        await uow.emit(
            "matter.reopened.v1",
            community=mr.community,
            subject=mr.matter_id,
            data=events.MatterReopened(
                matter_id=mr.matter_id,
                round=mr.round + 1,
                reasons=list(decision.reasons)[:50],
                rate=decision.rate,
                escalate_to=escalate_to,
                reopened_at=now,
            ),
        )
        revisit.status = "done"
        for o in out:
            o.reopened_round, o.escalate_to = mr.round + 1, escalate_to
    elif decision.outcome == "satisfied":
        revisit.status = "done"


async def record_evaluation(uow: UnitOfWork, principal: Principal, matter_id: str, body: EvaluationIn) -> Recorded:
    """Store one household's voice as recorded by staff, decide the round and emit what follows (no commit)."""
    mr, revisit = await open_round(uow.session, matter_id, principal)
    voice = Voice(
        household_ref=household_ref(mr.community, body.household),
        rating=body.rating,
        method=body.method,
        solved=body.solved,
        is_reporter=body.is_reporter,
        comment=body.comment,
        evidence=body.evidence.model_dump(exclude_none=True) if body.evidence else None,
    )
    [out] = await record_voices(uow, mr, revisit, [voice], recorded_by=principal.sub)
    return out
