"""Telling a unit it has a matter: a direct matter routed to it, or a matter handed over (转办) to it.

The notice goes to the unit's people in the directory (roster members of the unit, else a department's
`contacts`), else to the party secretary with a note that the unit has no contact; through the ledger's
notice queue (services/runtime/notices.py), deduplicated by key, non-red matters after the quiet hours.
"""

from __future__ import annotations

import datetime as dt

from services.ledger.alerts import _local, _place, _recipient
from services.ledger.domain import TZ
from services.ledger.models import Entry, notices
from services.ledger.oncall import contacts_of, secretary
from services.runtime.directory import load_directory
from services.runtime.notices import Notice, quiet_until
from services.runtime.privacy import scrub_text
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
