"""Calling a resident back: staff reveal one consenting reporter's phone for a while, and every reveal is audited.

The reveal is the one place where intake decrypts a reporter's contact details for a person. It needs the
reporter's consent (`callback_consent`), a reason (回访 or 核实), a role that calls residents, the report's
community, and room in the caller's hourly allowance; each reveal appends a link to the community's
hash-chained audit log (who, role, report, reason, when; never the phone) in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import select

from services.intake.models import RevealHead, RevealRecord
from services.runtime import hashchain
from services.runtime.settings import IntakeVars, get_settings


def reveal_settings() -> IntakeVars:
    """INTAKE_REVEAL_PER_HOUR (per staff member) and INTAKE_REVEAL_TTL_S, from the process's settings."""
    return get_settings().intake


def record_fields(r: RevealRecord | dict[str, Any]) -> dict[str, Any]:
    """What a link's hash covers (prev_hash is chained separately)."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    return {
        "community": get("community"),
        "seq": get("seq"),
        "at": hashchain.iso(get("at")),
        "actor": get("actor"),
        "role": get("role"),
        "report_id": get("report_id"),
        "reason": get("reason"),
        "revealed": list(get("revealed")),
        "expires_at": hashchain.iso(get("expires_at")),
    }


async def append(session, **fields: Any) -> RevealRecord:
    """Append one link to its community's chain inside the caller's transaction (the head row is locked)."""
    community = fields["community"]
    stmt = hashchain.reserve_statement(session.bind.dialect.name, RevealHead.__table__)
    last, head_hash = (await session.exec(stmt, params={"community": community, "count": 1})).one()
    seq, prev = hashchain.first_link(last, head_hash, 1)
    digest = hashchain.chain_hash(record_fields({**fields, "seq": seq}), prev)
    row = RevealRecord(**fields, seq=seq, prev_hash=prev, hash=digest)
    session.add(row)
    await session.exec(update(RevealHead).where(RevealHead.community == community).values(hash=digest))
    return row


async def verify(db, communities: set[str] | None = None) -> tuple[int, list[hashchain.Broken]]:
    """Recompute every reveal chain (or those of `communities`); return (links checked, first break of each)."""
    async with db.session() as s:
        heads = {h.community: h for h in (await s.exec(select(RevealHead))).all()}
        found = set((await s.exec(select(RevealRecord.community).distinct())).all()) | set(heads)
        if communities is not None:
            found &= communities
        checked, broken = 0, []
        for c in sorted(found):
            q = select(RevealRecord).where(RevealRecord.community == c).order_by(RevealRecord.seq)
            rows = list((await s.exec(q)).all())
            checked += len(rows)
            bad = hashchain.check_chain(c, rows, heads.get(c), record_fields)
            if bad is not None:
                broken.append(bad)
    return checked, broken
