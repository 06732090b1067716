"""Deadline warnings and reminders (临期预警、超期催办): the periodic sweep notifying the responsible unit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlmodel import select

from services.ledger import alerts, audit, commitments, notes
from services.ledger.config import deadline_policy
from services.ledger.domain import DONE_STATES, DeadlinePolicy, deadline_status
from services.ledger.models import Entry, Reminder, SupportingTask
from services.ledger.service import SYSTEM, append, utcnow
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

KIND_ZH = notes.REMINDER_ZH
# Deadlines further ahead than this cannot be inside any warning window (holidays included).
HORIZON = dt.timedelta(days=45)


def reminder_kind(deadline: dt.datetime, now: dt.datetime, state: str, policy: DeadlinePolicy) -> str | None:
    """'warning' or 'overdue' when a reminder is due for this deadline, else None."""
    status = deadline_status(deadline, now, state, policy)
    return status if status in ("warning", "overdue") else None


def _support_state(task: SupportingTask) -> str:
    # A supporting task's clock runs like an entry's: finished tasks count as done.
    return "completed" if task.state == "completed" else "in_progress"


async def sweep(
    uow_factory: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    now: dt.datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> int:
    """Send every due reminder once (per target, kind and deadline); return how many were sent."""
    now = now or utcnow()
    policy = policy or deadline_policy()
    async with uow_factory() as uow:
        s = uow.session
        horizon = now + HORIZON
        entries = list(
            (
                await s.exec(
                    select(Entry)
                    .where(
                        Entry.deadline.is_not(None),
                        Entry.deadline < horizon,
                        Entry.state.not_in(sorted(DONE_STATES)),
                    )
                    .order_by(Entry.deadline, Entry.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        tasks = list(
            (
                await s.exec(
                    select(SupportingTask)
                    .where(
                        SupportingTask.deadline.is_not(None),
                        SupportingTask.deadline < horizon,
                        SupportingTask.state != "completed",
                    )
                    .order_by(SupportingTask.deadline, SupportingTask.id)
                )
            ).all()
        )
        ids = {e.id for e in entries} | {t.id for t in tasks}
        sent_rows = (await s.exec(select(Reminder).where(Reminder.target_id.in_(sorted(ids))))).all() if ids else []
        sent = {(r.target_id, r.kind, audit.iso(r.deadline)) for r in sent_rows}
        by_id = {e.id: e for e in entries}
        count = 0
        for e in entries:
            kind = reminder_kind(e.deadline, now, e.state, policy)
            if kind is None or (e.id, kind, audit.iso(e.deadline)) in sent:
                continue
            if kind == "overdue" and not e.overdue:
                e.overdue = True
                append(s, e, actor=SYSTEM, action="overdue", from_state=e.state, note=notes.OVERDUE, at=now)
            await _remind(uow, e, e.id, kind, e.deadline, e.lead_unit, None, now)
            count += 1
        for t in tasks:
            kind = reminder_kind(t.deadline, now, _support_state(t), policy)
            if kind is None or (t.id, kind, audit.iso(t.deadline)) in sent:
                continue
            entry = by_id.get(t.entry_id) or await s.get(Entry, t.entry_id)
            if entry is None or entry.state in DONE_STATES:
                continue
            if kind == "overdue":
                t.overdue = True
                s.add(t)
            await _remind(uow, entry, t.id, kind, t.deadline, t.unit, t.id, now)
            count += 1
        count += await commitments.remind_due(uow, now)
        await uow.commit()
    if count:
        log.info("ledger.reminders sent=%s", count)
    return count


async def _remind(
    uow: UnitOfWork,
    entry: Entry,
    target_id: str,
    kind: str,
    deadline: dt.datetime,
    unit: str | None,
    task_id: str | None,
    now: dt.datetime,
) -> None:
    s = uow.session
    s.add(Reminder(target_id=target_id, entry_id=entry.id, kind=kind, deadline=deadline, sent_at=now))
    append(
        s,
        entry,
        actor=SYSTEM,
        action="remind",
        from_state=entry.state,
        note=notes.reminded(kind, unit, bool(task_id), deadline),
        at=now,
    )
    await alerts.remind_unit(uow, entry, unit, kind=kind, kind_zh=KIND_ZH[kind], deadline=deadline, now=now)
