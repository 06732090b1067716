"""Tamper-evident audit log: an append-only hash chain per community, written in each change's transaction.

`stage()` (called for every timeline item) queues a record with the entry's state before and after;
a `before_commit` listener writes the queued records in the same transaction, so a change and its
audit record commit or roll back together. `verify()` recomputes every chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, event, insert, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE
from sqlmodel import select

from services.ledger.models import AuditHead, AuditRecord
from services.runtime import hashchain
from services.runtime.hashchain import GENESIS, Broken, canonical, chain_hash, iso  # noqa: F401 - ledger's names

_PENDING = "ledger_audit_pending"
_LAST = "ledger_audit_last"


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, *, committed: bool = False) -> dict[str, Any]:
    """The column values of a row as JSON; with committed=True, the values as last loaded or flushed."""
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        value = getattr(obj, key)
        if committed and key in state.committed_state:
            old = state.committed_state[key]
            value = value if old is NO_VALUE else old
        out[key] = _json_value(value)
    return out


def record_fields(
    *, community: str, seq: int, at: dt.datetime, actor: str, action: str, entry_id: str | None, before, after
) -> dict[str, Any]:
    """The hashed content of one record (prev_hash is chained separately)."""
    return {
        "community": community,
        "seq": seq,
        "at": iso(at),
        "actor": actor,
        "action": action,
        "entry_id": entry_id,
        "before": before,
        "after": after,
    }


def stage(session, obj: Any, *, community: str, actor: str, action: str, entry_id: str | None, at: dt.datetime):
    """Queue an audit record of `obj` as it is now; it is written when the session commits."""
    info = session.info
    last: dict = info.setdefault(_LAST, {})
    key = (type(obj).__name__, inspect(obj).identity or id(obj))
    pending_new = inspect(obj).pending or inspect(obj).transient
    before = last.get(key) if key in last else (None if pending_new else snapshot(obj, committed=True))
    after = snapshot(obj)
    last[key] = after
    info.setdefault(_PENDING, []).append(
        {
            "community": community,
            "actor": actor[:128],
            "action": action,
            "entry_id": entry_id,
            "at": at,
            "before": before,
            "after": after,
        }
    )


def _reserve_links(session: Session, community: str, count: int) -> tuple[int, str]:
    """Take `count` numbers of the community's chain (locking its head until commit); return (first seq, prev_hash)."""
    stmt = hashchain.reserve_statement(session.bind.dialect.name, AuditHead.__table__)
    last, prev = session.execute(stmt, {"community": community, "count": count}).one()
    return hashchain.first_link(last, prev, count)


# Core statements built once (issue 23): writing the audit, with the ORM's bulk insert and statements built per
# commit, was about a tenth of the ledger's time in the saturated pipeline.
_INSERT = insert(AuditRecord.__table__)
_MOVE_HEAD = (
    update(AuditHead.__table__)
    .where(AuditHead.__table__.c.community == bindparam("p_community"))
    .values(hash=bindparam("p_hash"))
)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Write queued audit records inside the committing transaction (ledger sessions only)."""
    pending = session.info.pop(_PENDING, None)
    session.info.pop(_LAST, None)
    if not pending:
        return
    by_community: dict[str, list[dict]] = {}
    for item in pending:
        by_community.setdefault(item["community"], []).append(item)
    # Per community: one statement reserves the numbers, one inserts the records, one moves the head
    # (a group commit may carry many records; the chain is the same as writing them one by one).
    for community, items in by_community.items():
        seq, prev = _reserve_links(session, community, len(items))
        rows = []
        for item in items:
            fields = record_fields(
                community=community,
                seq=seq,
                at=item["at"],
                actor=item["actor"],
                action=item["action"],
                entry_id=item["entry_id"],
                before=item["before"],
                after=item["after"],
            )
            digest = chain_hash(fields, prev)
            rows.append({**item, "seq": seq, "prev_hash": prev, "hash": digest})
            prev, seq = digest, seq + 1
        session.execute(_INSERT, rows)
        session.execute(_MOVE_HEAD, {"p_community": community, "p_hash": prev})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_LAST, None)


def _fields_of(r: AuditRecord) -> dict[str, Any]:
    return record_fields(
        community=r.community,
        seq=r.seq,
        at=r.at,
        actor=r.actor,
        action=r.action,
        entry_id=r.entry_id,
        before=r.before,
        after=r.after,
    )


def check_chain(community: str, rows: list[AuditRecord], head: AuditHead | None) -> Broken | None:
    """Recompute one community's chain (rows in seq order); return the first broken record or None."""
    return hashchain.check_chain(community, rows, head, _fields_of)


async def verify(db, community: str | None = None, batch: int = 5000) -> tuple[int, list[Broken]]:
    """Verify every community's chain (or one); return (records checked, the first break per community)."""
    async with db.session() as s:
        heads = {h.community: h for h in (await s.exec(select(AuditHead))).all()}
        q = select(AuditRecord.community).distinct()
        communities = set((await s.exec(q)).all()) | set(heads)
        if community is not None:
            communities &= {community}
        checked, broken = 0, []
        for c in sorted(communities):
            q = select(AuditRecord).where(AuditRecord.community == c).order_by(AuditRecord.seq)
            rows = list((await s.exec(q)).all())
            checked += len(rows)
            found = check_chain(c, rows, heads.get(c))
            if found is not None:
                broken.append(found)
    return checked, broken
