"""HTTP routes of commitments: parse, call commitments, map refusals to problem+json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from services.ledger import audit, notes, service
from services.ledger.commitments import aware
from services.ledger.models import Commitment
from services.ledger.supporting_api import entry_in_scope
from services.runtime.auth import Principal
from services.runtime.authz import require
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["ledger"])


STATE_ZH = {"open": "待核验", "kept": "已兑现", "broken": "未兑现"}


class CommitmentOut(BaseModel):
    """A promise on an entry as staff see it."""

    id: str
    text: str
    owner_party: str | None
    owner: str
    due: dt.datetime
    state: str
    state_label: str
    overdue: bool = Field(description="Still open after its due time")
    checked_at: dt.datetime | None
    checked_by: str | None
    note: str | None

    @classmethod
    def of(cls, c: Commitment, now: dt.datetime) -> CommitmentOut:
        """The API view of a commitment at `now`."""
        due = aware(c.due)
        return cls(
            id=c.id,
            text=c.text,
            owner_party=c.owner_party,
            owner=c.owner,
            due=due,
            state=c.state,
            state_label=STATE_ZH.get(c.state, c.state),
            overdue=c.state == "open" and due < now,
            checked_at=aware(c.checked_at) if c.checked_at else None,
            checked_by=c.checked_by,
            note=c.note,
        )


class CheckIn(BaseModel):
    """The check of one commitment: kept or broken, and what was seen."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["kept", "broken"]
    note: Annotated[str, Field(min_length=1, max_length=1000)]


@router.post(
    "/entries/{entry_id}/commitments/{commitment_id}/check",
    response_model=CommitmentOut,
    summary="Check a commitment kept or broken (承诺核验)",
)
async def check_commitment(
    entry_id: str,
    commitment_id: str,
    body: CheckIn,
    ctx: Ctx,
    principal: Annotated[Principal, Depends(require("ledger.close"))],
) -> CommitmentOut:
    """Record whether a promise was kept; once checked it stays checked (409 on a second check)."""
    note = body.note.strip()
    if not note:
        raise Problem(422, "须说明核验情况", "A note is required", field="note")
    async with ctx.bus.uow(actor=principal.sub) as uow:
        s = uow.session
        entry = await entry_in_scope(s, principal, entry_id, lock=True)
        c = await s.get(Commitment, commitment_id)
        if c is None or c.entry_id != entry.id:
            raise Problem(404, "该台账没有这项承诺", "Commitment not found on this entry")
        if c.state != "open":
            raise Problem(
                409,
                f"该承诺已核验（{STATE_ZH[c.state]}）",
                f"Commitment already checked ({c.state})",
                extra={"state": c.state},
            )
        now = service.utcnow()
        c.state, c.checked_at, c.checked_by, c.note = body.result, now, principal.sub[:128], note
        s.add(c)
        audit.stage(
            s, c, community=entry.community, actor=principal.sub, action="commit_check", entry_id=entry.id, at=now
        )
        text = notes.promise_checked(c.text, c.state, note)
        service.append(s, entry, actor=principal.sub, action="commit_check", from_state=entry.state, note=text, at=now)
        await s.flush()
        out = CommitmentOut.of(c, now)
        await uow.commit()
    return out
