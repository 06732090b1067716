"""Telling a unit it has a matter: a direct matter routed to it, or a matter handed over (转办) to it.

The notice goes to the unit's people in the directory (roster members of the unit, else a department's
`contacts`), else to the party secretary with a note that the unit has no contact; through the ledger's
notice queue (services/runtime/notices.py), deduplicated by key, non-red matters after the quiet hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.ledger import routing
from services.ledger.alerts import _local, _place, _recipient
from services.ledger.domain import TZ
from services.ledger.models import Entry, notices
from services.ledger.oncall import contacts_of, secretary
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import load_directory
from services.runtime.notices import Notice, quiet_until
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.privacy import scrub_text
from services.runtime.problems import Problem
from services.runtime.uow import UnitOfWork

KIND_ZH = {"handover": "转办通知", "assigned": "交办通知"}


async def notify_unit(uow: UnitOfWork, entry: Entry, unit: str, *, kind: str, note: str, now: dt.datetime) -> int:
    """Queue a notice to `unit`'s people that `entry` is theirs now; return how many were queued."""
    community = load_directory().community(entry.community)
    if community is None:
        return 0
    people, tier = contacts_of(community, unit), "unit"
    if not people:
        sec = secretary(community)
        people, tier = ((sec,) if sec else ()), "secretary"
    kind_zh = KIND_ZH[kind]
    lines = [
        f"{_place(community, entry)}：{scrub_text(entry.title)[:120]}",
        f"{kind_zh}：该事项已交由{unit}办理。{scrub_text(note)[:300]}",
        f"办结时限：{_local(entry.deadline)}",
    ]
    if tier == "secretary":
        lines.append("（该单位在名录中无联系人，请社区转告）")
    due = now if entry.level == "red" else (quiet_until(now, TZ) or now)
    batch = [
        Notice(
            key=f"{kind}:{entry.id}:{entry.round}:{unit}:{person.name}"[:200],
            community=entry.community,
            to=_recipient(tier, person),
            subject=f"【{kind_zh}】" + scrub_text(entry.title)[:40],
            body="\n".join(lines),
            kind=kind,
            ref=entry.id,
            due_at=due,
        )
        for person in people
    ]
    return await notices.enqueue(uow, batch, now=now)


router = APIRouter(prefix="/v1", tags=["ledger"])


class UnitOut(BaseModel):
    """A unit a matter can be handed over to (转办), from the directory."""

    party: str
    party_label: str
    code: str | None
    name: str
    categories: list[str]


PARTY_ZH = {"department": "职能部门", "partner_unit": "结对共建单位"}


@router.get("/handover-units/{community}", response_model=Page[UnitOut], summary="Units for 转办 (可转办单位)")
async def handover_units(
    community: str,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    limit: Limit = 500,
    offset: Offset = 0,
) -> Page[UnitOut]:
    """The departments (with the categories they handle) and partner units a community's matters can go to."""
    in_scope(principal, community)
    found = load_directory().community(community)
    if found is None:
        raise Problem(404, "名录中没有该社区", "Community not in the directory")
    units = [UnitOut(**u, party_label=PARTY_ZH[u["party"]]) for u in routing.handover_units(found)]
    return window(units, limit, offset)
