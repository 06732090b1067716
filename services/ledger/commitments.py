"""Commitments (承诺事项): promises made at a session, tracked on the entry and checked before it is crossed off.

"物业承诺维修后恢复原样", "居民承诺维修时不用下水": each arrives in `session.concluded.v1` with an owner and a
due time, becomes a `commitment` row on the matter's entry, and is checked kept or broken by the party
organisation. An entry with an open commitment cannot be crossed off (销号).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import audit, notes, service
from services.ledger.domain import TZ
from services.ledger.models import Commitment, Entry, Reminder, notices
from services.ledger.oncall import secretary
from services.runtime.directory import load_directory
from services.runtime.errors import Problem
from services.runtime.notices import Notice, quiet_until
from services.runtime.notify import Recipient
from services.runtime.privacy import scrub_text
from services.runtime.uow import UnitOfWork


def aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _local(moment: dt.datetime) -> str:
    return aware(moment).astimezone(TZ).strftime("%Y-%m-%d %H:%M")


async def of_entry(session, entry_id: str) -> list[Commitment]:
    """An entry's commitments in the order they were made."""
    q = select(Commitment).where(Commitment.entry_id == entry_id).order_by(Commitment.created_at, Commitment.id)
    return list((await session.exec(q)).all())


async def record(uow: UnitOfWork, env: Envelope, entry: Entry, res: events.Resolution, actor: str) -> int:
    """Put a resolution's promises on the entry (once each), noted on its timeline; return how many were new."""
    added = 0
    for promise in res.commitments:
        if await uow.session.get(Commitment, promise.id) is not None:
            continue  # a redelivered conclusion
        row = Commitment(
            id=promise.id,
            entry_id=entry.id,
            community=entry.community,
            session_id=(env.subject or "")[:64],
            text=promise.text,
            owner_party=promise.owner_party,
            owner=promise.owner,
            due=promise.due,
            created_at=service.utcnow(),
        )
        uow.session.add(row)
        now = service.utcnow()
        audit.stage(
            uow.session, row, community=entry.community, actor=actor, action="commit_add", entry_id=entry.id, at=now
        )
        note = notes.promised(promise.text, promise.owner, promise.due)
        service.append(
            uow.session, entry, actor=actor, action="commit", from_state=entry.state, note=note, event_id=env.id
        )
        added += 1
    return added


async def remind_due(uow: UnitOfWork, now: dt.datetime) -> int:
    """Promises past due and still unchecked: a timeline note, and the party secretary asked to check (once)."""
    s = uow.session
    due = (
        await s.exec(
            select(Commitment)
            .where(Commitment.state == "open", Commitment.due < now)
            .order_by(Commitment.due)
            .limit(200)
        )
    ).all()
    told = 0
    for c in due:
        seen = await s.exec(
            select(Reminder.id).where(
                Reminder.target_id == c.id, Reminder.kind == "commitment", Reminder.deadline == c.due
            )
        )
        entry = await s.get(Entry, c.entry_id)
        if seen.first() is not None or entry is None or entry.state == "closed":
            continue
        s.add(Reminder(target_id=c.id, entry_id=entry.id, kind="commitment", deadline=c.due, sent_at=now))
        note = notes.promise_due(c.text, c.owner, c.due)
        service.append(s, entry, actor=service.SYSTEM, action="remind", from_state=entry.state, note=note, at=now)
        community = load_directory().community(entry.community)
        sec = secretary(community) if community else None
        if sec is not None:
            notice = Notice(
                key=f"commitment:{c.id}:{c.due.isoformat()}",
                community=entry.community,
                to=Recipient(
                    name=sec.name, key=f"secretary:{sec.name}", email=sec.email, phone=sec.phone, wecom_id=sec.wecom_id
                ),
                subject="【承诺到期】" + scrub_text(entry.title)[:40],
                body=f"{scrub_text(entry.title)[:120]}\n{note}",
                kind="commitment_due",
                ref=entry.id,
                due_at=quiet_until(now, TZ) or now,
            )
            await notices.enqueue(uow, [notice], now=now)
        told += 1
    return told


async def refuse_close_with_open(session, entry: Entry) -> None:
    """409 naming the promises still unchecked: an entry is crossed off only when every promise was checked."""
    open_ = [c for c in await of_entry(session, entry.id) if c.state == "open"]
    if not open_:
        return
    names = "；".join(f"{c.text}（{c.owner}）" for c in open_[:5])
    raise Problem(
        409,
        f"尚有{len(open_)}项承诺未核验，不能销号：{names}",
        f"{len(open_)} commitment(s) not yet checked; check each as kept or broken before closing: "
        + "; ".join(c.text for c in open_[:5]),
        extra={"open_commitments": [{"id": c.id, "text": c.text, "owner": c.owner} for c in open_]},
    )
