"""HTTP routes of reveal: parse, call reveal, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlmodel import func, select

from services.contracts.vocabulary import REVEAL_REASON_LABELS, RevealReason
from services.intake import limits_api
from services.intake.models import Report, RevealRecord
from services.intake.reveal import append, reveal_settings, verify
from services.intake.service import vault
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require, scope_filter
from services.runtime.pages import Limit, Offset, Page
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RevealIn(BaseModel):
    """Why the phone is needed: 回访 (callback) or 核实 (verify)."""

    reason: RevealReason


class RevealOut(BaseModel):
    """A consenting reporter's contact details, to be shown until `expires_at` and then hidden."""

    report_id: str
    name: str | None
    phone: str
    reason: str
    reason_label: str
    reason_label_en: str
    expires_at: dt.datetime


class RevealLogOut(BaseModel):
    """One audited reveal (never the phone)."""

    seq: int
    community: str
    at: dt.datetime
    actor: str
    role: str
    report_id: str
    reason: str
    reason_label: str
    revealed: list[str]
    expires_at: dt.datetime


class VerifyOut(BaseModel):
    """The result of recomputing the reveal chains the caller may see."""

    ok: bool
    checked: int
    broken: list[dict]


async def _allowance(ctx, principal: Principal) -> None:
    """Count the reveal against the caller's hourly allowance; refuse over it, and when it cannot be counted."""
    cfg = reveal_settings()
    d = await limits_api.limiter(ctx).hit("reveal-staff", principal.sub, limit=cfg.reveal_per_hour, window_s=3600)
    if d.degraded:
        # Unlike a resident's report, a reveal can wait: without the counter there is no limit, so refuse.
        raise Problem(503, "暂时无法核验查看次数，请稍后再试", "Reveal allowance cannot be checked now; try later")
    if not d.allowed:
        raise Problem(
            429,
            f"查看联系电话过于频繁（每小时最多 {cfg.reveal_per_hour} 次），请 {d.retry_after} 秒后再试",
            f"Too many reveals (at most {cfg.reveal_per_hour} per hour); retry after {d.retry_after} s",
            headers={"Retry-After": str(d.retry_after), **NO_STORE},
            extra={"retry_after": d.retry_after},
        )


@router.post(
    "/reports/{report_id}/reveal", response_model=RevealOut, summary="Reveal a consenting reporter's phone (回电)"
)
async def reveal(
    report_id: str,
    body: RevealIn,
    ctx: Ctx,
    response: Response,
    principal: Annotated[Principal, Depends(require("report.reveal"))],
) -> RevealOut:
    """Decrypt one reporter's phone (and name) for a call back; audited, rate limited, consent required."""
    response.headers.update(NO_STORE)
    await _allowance(ctx, principal)
    async with ctx.db.session() as s:
        r = await s.get(Report, report_id)
        if r is None:
            raise Problem(404, "未找到该报事", "Report not found")
        in_scope(principal, r.community)
        if not r.callback_consent:
            raise Problem(
                403,
                "报事人未同意社区工作人员回电，不能查看其联系电话",
                "The reporter did not consent to be called back; the phone is not revealed",
            )
        if r.reporter_phone_enc is None:
            raise Problem(409, "报事人未留联系电话", "No phone number was left with this report")
        v = vault()
        phone, name = v.decrypt(r.reporter_phone_enc), v.decrypt(r.reporter_name_enc)
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=reveal_settings().reveal_ttl_s)
        await append(
            s,
            community=r.community,
            at=now,
            actor=principal.sub[:128],
            role=principal.role,
            report_id=r.id,
            reason=body.reason,
            revealed=["phone", "name"] if name else ["phone"],
            expires_at=expires,
        )
        await s.commit()
    zh, en = REVEAL_REASON_LABELS[body.reason]
    return RevealOut(
        report_id=report_id,
        name=name,
        phone=phone,
        reason=body.reason,
        reason_label=zh,
        reason_label_en=en,
        expires_at=expires,
    )


@router.get("/reveals", response_model=Page[RevealLogOut], summary="Audited reveals of contact details (staff)")
async def list_reveals(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("reveal.read"))],
    community: str | None = Query(None, max_length=64),
    report_id: str | None = Query(None, max_length=40),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RevealLogOut]:
    """Who revealed which reporter's phone, why and when, newest first, in the caller's communities."""
    cond = [scope_filter(principal, RevealRecord.community, community)]
    if report_id:
        cond.append(RevealRecord.report_id == report_id)
    q = select(RevealRecord).where(*cond).order_by(RevealRecord.at.desc(), RevealRecord.id.desc())
    async with ctx.db.session() as s:
        total = (await s.exec(select(func.count()).select_from(RevealRecord).where(*cond))).one()
        rows = (await s.exec(q.offset(offset).limit(limit))).all()
    items = [
        RevealLogOut(
            **{k: getattr(r, k) for k in ("seq", "community", "at", "actor", "role", "report_id", "reason")},
            reason_label=REVEAL_REASON_LABELS.get(r.reason, (r.reason, r.reason))[0],
            revealed=r.revealed,
            expires_at=r.expires_at,
        )
        for r in rows
    ]
    return Page[RevealLogOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/reveals/verify", response_model=VerifyOut, summary="Verify the reveal audit chains")
async def verify_reveals(
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("reveal.read"))],
    community: str | None = Query(None, max_length=64),
) -> VerifyOut:
    """Recompute the hash chains of the caller's communities (all of them for the county)."""
    if community is not None:
        in_scope(principal, community)
        scope: set[str] | None = {community}
    else:
        scope = None if principal.county_wide else set(principal.communities)
    checked, broken = await verify(ctx.db, scope)
    return VerifyOut(
        ok=not broken,
        checked=checked,
        broken=[{"community": b.community, "seq": b.seq, "reason": b.reason} for b in broken],
    )
