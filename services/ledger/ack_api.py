"""Acknowledging a red alert by the link in its page (确认接警): public, signed, one alert per link."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from sqlmodel import select

from services.ledger import alerts
from services.ledger.domain import TZ
from services.ledger.models import Alert, Entry
from services.runtime.authz import public
from services.runtime.links import Expired, Forged, Link
from services.runtime.privacy import public_text
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger: red alerts"])
ACK_LINK = "on-call staff acknowledge a red alert through the signed link in their page (HMAC, expiring)"
Token = Annotated[str, Path(min_length=10, max_length=1024)]


class AckOut(BaseModel):
    """What the person paged sees behind the link: the matter and whether it is acknowledged (no names: a link
    can be forwarded)."""

    title: str
    level_label: str
    lead_unit: str | None
    first_action_due: dt.datetime | None
    status: str
    status_label: str
    acked_at: dt.datetime | None


def _verify(token: str) -> Link:
    try:
        return alerts.signer().verify(token, purposes=(alerts.ACK_PURPOSE,))
    except Forged:
        raise Problem(404, "链接无效", "Link not found") from None
    except Expired:
        zh, en = "链接已过期，请在工作台确认接警", "The link has expired; acknowledge in the console"
        raise Problem(410, zh, en) from None


def _out(entry: Entry, alert: Alert) -> AckOut:
    return AckOut(
        title=(public_text(entry.title) or "")[:200],
        level_label="红色（急难险重）",
        lead_unit=entry.lead_unit,
        first_action_due=entry.first_action_due.astimezone(TZ) if entry.first_action_due else None,
        status=alert.status,
        status_label=alerts.ALERT_STATUS_ZH.get(alert.status, alert.status),
        acked_at=alert.acked_at,
    )


async def _load(s, link: Link, *, lock: bool = False) -> tuple[Entry, Alert]:
    alert = await s.get(Alert, link.subject)
    entry = None
    if alert is not None:
        q = select(Entry).where(Entry.id == alert.entry_id)
        entry = (await s.exec(q.with_for_update() if lock else q)).first()
    if alert is None or entry is None:
        raise Problem(404, "链接无效", "Link not found")
    return entry, alert


@router.get(
    "/acks/{token}",
    response_model=AckOut,
    summary="A red alert behind a page's link (public)",
    dependencies=[Depends(public(ACK_LINK))],
)
async def get_ack(token: Token, ctx: Ctx) -> AckOut:
    """The alert's matter and status; opening the link does not acknowledge (link scanners open links)."""
    link = _verify(token)
    async with ctx.db.session() as s:
        entry, alert = await _load(s, link)
        return _out(entry, alert)


@router.post(
    "/acks/{token}",
    response_model=AckOut,
    summary="Acknowledge a red alert by its link (public)",
    dependencies=[Depends(public(ACK_LINK))],
)
async def post_ack(token: Token, ctx: Ctx) -> AckOut:
    """Acknowledge: paging stops and the timeline names who took it (idempotent)."""
    link = _verify(token)
    by = link.audience.partition(":")[2] or link.audience
    async with ctx.bus.uow(actor=by) as uow:
        entry, alert = await _load(uow.session, link, lock=True)
        await alerts.acknowledge(uow.session, entry, alert, by=by, via="link", now=dt.datetime.now(dt.UTC))
        out = _out(entry, alert)
        await uow.commit()
    return out
