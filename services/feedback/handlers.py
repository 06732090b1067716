"""Feedback's event handlers (revisits follow completion, closing ends them) and the overdue sweep."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import Envelope, events
from services.feedback import domain
from services.feedback.models import MatterRound, MatterView, Revisit, notices
from services.runtime.consumer import Reject
from services.runtime.directory import Community, Member, load_directory
from services.runtime.notices import Notice, quiet_until
from services.runtime.notify import Recipient
from services.runtime.privacy import scrub_text
from services.runtime.tables import upsert
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

PENDING_STATUSES = ("open", "overdue")  # a revisit still waiting for evaluations


def _aware(at: dt.datetime) -> dt.datetime:
    # The contract says UTC; a producer that forgot the offset still meant UTC.
    return at if at.utcoffset() is not None else at.replace(tzinfo=dt.UTC)


async def matter_round(session: AsyncSession, matter_id: str, *, lock: bool = False) -> MatterRound | None:
    """The matter's round row (locked for update on PostgreSQL when asked)."""
    q = select(MatterRound).where(MatterRound.matter_id == matter_id)
    if lock:
        q = q.with_for_update()
    return (await session.exec(q)).first()


async def revisit_of(session: AsyncSession, matter_id: str, round: int) -> Revisit | None:
    """The revisit of one matter's round, if planned."""
    q = select(Revisit).where(Revisit.matter_id == matter_id, Revisit.round == round)
    return (await session.exec(q)).first()


def _what_was_done(data: events.EntryEvent) -> str | None:
    """The measures (具体举措) and the completion note (办结说明), which residents see on a questionnaire."""
    parts = [t.strip() for t in (data.measures, f"办结说明：{data.note.strip()}" if data.note else None) if t]
    # Neighbours read this on their questionnaire: scrubbed here too, whatever the ledger sent.
    return scrub_text("；".join(parts))[:2000] or None


async def on_entry_completed(uow: UnitOfWork, env: Envelope, data: events.EntryEvent) -> None:
    """A completed matter (办结) gets a revisit for its round, with planned methods and a due time."""
    if load_directory().community(env.community) is None:
        raise Reject(f"unknown community {env.community!r}")
    s = uow.session
    now = dt.datetime.now(dt.UTC)
    mr = await matter_round(s, data.matter_id, lock=True)
    if mr is not None and mr.community != env.community:
        raise Reject(f"{env.type} claims community {env.community!r} for a matter of another community")
    existing = await revisit_of(s, data.matter_id, data.round)
    if existing is not None:
        if existing.community != env.community:
            raise Reject(f"{env.type} claims community {env.community!r} for another community's revisit")
        return  # the same completion again: one revisit per (matter, round)
    if mr is not None and (mr.closed or data.round < mr.round):
        log.info("feedback.completion_ignored matter=%s round=%s (closed or stale)", data.matter_id, data.round)
        return
    methods = domain.plan_methods(data.level, data.households, data.category)
    completed_at = _aware(data.at)
    revisit = Revisit(
        id=f"rev_{uuid.uuid4().hex[:20]}",
        matter_id=data.matter_id,
        entry_id=data.entry_id,
        community=env.community,
        round=data.round,
        level=data.level,
        category=data.category,
        households=data.households,
        methods=methods,
        due_at=min(domain.revisit_due(completed_at, m) for m in methods),
        status="open",
        created_at=now,
        measures=_what_was_done(data),
    )
    try:
        async with s.begin_nested():
            s.add(revisit)
    except IntegrityError:
        # Another replica planned the same revisit a moment ago.
        return
    # Older rounds still waiting are superseded by this completion.
    await s.exec(
        update(Revisit)
        .where(Revisit.matter_id == data.matter_id, Revisit.round < data.round, Revisit.status.in_(PENDING_STATUSES))
        .values(status="done")
    )
    if mr is None:
        s.add(MatterRound(matter_id=data.matter_id, community=env.community, round=data.round, updated_at=now))
    else:
        mr.round, mr.outcome, mr.updated_at = data.round, "pending", now


async def on_matter_closed(uow: UnitOfWork, env: Envelope, data: events.MatterClosed) -> None:
    """A crossed-off matter (销号) takes no more evaluations: its round closes, its revisits end."""
    s = uow.session
    now = dt.datetime.now(dt.UTC)
    mr = await matter_round(s, data.matter_id, lock=True)
    revisits = (await s.exec(select(Revisit).where(Revisit.matter_id == data.matter_id))).all()
    view = await s.get(MatterView, data.matter_id)
    known = [x.community for x in (mr, view, *revisits) if x is not None]
    if any(c != env.community for c in known):
        raise Reject(f"matter.closed claims community {env.community!r} for a matter of another community")
    if mr is None:
        # Closed before any completion reached us: remember it so a late completion opens no revisit.
        s.add(MatterRound(matter_id=data.matter_id, community=env.community, closed=True, updated_at=now))
    elif not mr.closed:
        mr.closed, mr.updated_at = True, now
    for r in revisits:
        if r.status in PENDING_STATUSES:
            r.status = "done"


@functools.cache
def _title_statement(dialect: str):
    """Insert a matter's view, or update the title of this community's view: built once per dialect, run with
    parameters (issue 23: built per event, with its cache key, it was about a tenth of feedback's time)."""
    t = MatterView.__table__
    ins = upsert(t, dialect)
    # A view of another community is left alone, and then nothing comes back.
    return ins.on_conflict_do_update(
        index_elements=[t.c.matter_id],
        set_={"title": ins.excluded.title, "updated_at": ins.excluded.updated_at},
        where=t.c.community == ins.excluded.community,
    ).returning(t.c.matter_id)


async def on_matter_triaged(uow: UnitOfWork, env: Envelope, data: events.MatterTriaged) -> None:
    """Keep the matter's title, which residents see on a questionnaire (latest wins; idempotent)."""
    if load_directory().community(env.community) is None:
        raise Reject(f"unknown community {env.community!r}")
    row = {
        "matter_id": data.matter_id,
        "community": env.community,
        "title": data.title[:500],
        "updated_at": dt.datetime.now(dt.UTC),
    }
    if (await uow.session.exec(_title_statement(uow.dialect), params=row)).first() is None:
        raise Reject(f"matter.triaged claims community {env.community!r} for a matter of another community")


METHOD_ZH = {
    "home_visit": "上门回访",
    "questionnaire": "调查问卷",
    "wechat_vote": "微信投票",
    "group_forum": "集中座谈",
}


def revisit_people(community: Community, assignee: str | None) -> list[Member]:
    """Who is reminded of a revisit: its assignee, else the community's grid workers, else its party organisation."""
    if assignee and (member := community.member(assignee)) is not None:
        return [member]
    party_org = community.roster.get("party_org", [])
    return [m for m in party_org if m.role and "网格员" in m.role] or party_org[:1]


async def remind_due(uow: UnitOfWork, now: dt.datetime | None = None) -> int:
    """Remind the people of pending revisits falling due soon, once each (quiet hours kept); return how many."""
    now = now or dt.datetime.now(dt.UTC)
    s = uow.session
    due = (
        await s.exec(
            select(Revisit)
            .where(
                Revisit.status.in_(PENDING_STATUSES),
                Revisit.reminded_at.is_(None),
                Revisit.due_at <= now + domain.REMIND_AHEAD,
            )
            .limit(500)
        )
    ).all()
    directory = load_directory()
    queued: list[Notice] = []
    for r in due:
        r.reminded_at = now
        s.add(r)
        community = directory.community(r.community)
        if community is None:
            continue
        view = await s.get(MatterView, r.matter_id)
        title = scrub_text(view.title)[:120] if view else "已办结事项"
        local = r.due_at.astimezone(domain.TZ).strftime("%m-%d %H:%M")
        body = (
            f"{community.name}：{title}\n第{r.round}轮回访，时限 {local}\n"
            f"回访方式：{'、'.join(METHOD_ZH.get(m, m) for m in r.methods)}，涉及{r.households}户"
        )
        for person in revisit_people(community, r.assignee):
            queued.append(
                Notice(
                    key=f"revisit:{r.id}:{person.name}",
                    community=r.community,
                    to=Recipient(
                        name=person.name,
                        key=f"revisit:{person.name}",
                        email=person.email,
                        phone=person.phone,
                        wecom_id=person.wecom_id,
                    ),
                    subject="【回访提醒】" + title[:40],
                    body=body,
                    kind="revisit_reminder",
                    ref=r.id,
                    due_at=quiet_until(now, domain.TZ) or now,
                )
            )
    await notices.enqueue(uow, queued, now=now)
    return len(due)


async def mark_overdue(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Flag open revisits past their due time as overdue; return how many changed (idempotent)."""
    now = now or dt.datetime.now(dt.UTC)
    result = await session.exec(
        update(Revisit).where(Revisit.status == "open", Revisit.due_at < now).values(status="overdue")
    )
    await session.commit()
    return result.rowcount or 0
