"""Red alerts (红色警报): page the people on call, re-page until someone acknowledges, then escalate.

An alert opens in the transaction that registers a red entry; its pages are notices queued in the same
transaction (services/runtime/notices.py) and delivered right after the commit. A periodic job re-pages
unacknowledged alerts every `repage_minutes` and, after `pages_per_tier` pages, escalates: on call → the
community's party secretary → the county operators. Acknowledgement comes by the link in the page or from
the console; acting on the entry (claim, start, progress) acknowledges too. Every page and the acknowledgement
are on the entry's timeline. See docs/emergency.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlmodel import and_, func, or_, select

from services.ledger import notes
from services.ledger.domain import DONE_STATES, TZ
from services.ledger.models import Alert, Entry, Reminder, notices
from services.ledger.oncall import TIER_ZH, TIERS, contacts_of, next_tier, on_duty, secretary, tier_people
from services.ledger.service import SYSTEM, append
from services.runtime import metrics
from services.runtime.directory import Community, Directory, Member, load_directory
from services.runtime.links import link_signer
from services.runtime.notices import Notice, quiet_until
from services.runtime.notify import Recipient
from services.runtime.privacy import scrub_text
from services.runtime.settings import get_settings
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)

ACK_PURPOSE = "alert_ack"
ACK_TTL = dt.timedelta(hours=24)
TOP_TIER_EVERY = 3  # at the last tier, re-page this many times more slowly
GIVE_UP = dt.timedelta(hours=24)  # nobody acknowledged for a day: stop paging (a rebuilt ledger pages no old alerts)
VIA_ZH = notes.VIA_ZH
ALERT_STATUS_ZH = {"open": "待确认", "acknowledged": "已确认接警", "closed": "已结束"}
ALERT_STATUS_EN = {"open": "Waiting for acknowledgement", "acknowledged": "Acknowledged", "closed": "Ended"}
signer = link_signer


def _notice(entry: Entry, **fields) -> Notice:
    """A notice about an entry: its community, and the entry as what it refers to."""
    return Notice(community=entry.community, ref=entry.id, **fields)


def alert_id(entry_id: str, round: int) -> str:
    """One alert per entry and round (deterministic, so a redelivered event opens nothing new)."""
    return "alr_" + hashlib.sha256(f"{entry_id}|{round}".encode()).hexdigest()[:20]


def _local(moment: dt.datetime | None) -> str:
    return moment.astimezone(TZ).strftime("%m-%d %H:%M") if moment else "—"


def _place(community: Community, entry: Entry) -> str:
    compound = community.compound(entry.compound) if entry.compound else None
    building = f"{entry.building}号楼" if entry.building and not str(entry.building).endswith("楼") else entry.building
    return community.name + (compound.name if compound else "") + (building or "")


def _recipient(tier: str, person: Member) -> Recipient:
    return Recipient(
        name=person.name, key=f"{tier}:{person.name}", email=person.email, phone=person.phone, wecom_id=person.wecom_id
    )


def _page_body(community: Community, entry: Entry, tier: int, ack_url: str) -> str:
    lines = [
        f"{_place(community, entry)}：{scrub_text(entry.title)[:120]}",
        "等级：红色（急难险重，立即处置）",
        f"责任单位：{entry.lead_unit or '待定'}",
        f"首次响应时限：{_local(entry.first_action_due)}",
    ]
    if tier > 0:
        lines.append(f"值班人员未确认，已升级至{TIER_ZH[TIERS[tier]]}。")
    lines.append(f"请立即处置，并点击确认接警：{ack_url}")
    return "\n".join(lines)


async def _page(uow: UnitOfWork, entry: Entry, alert: Alert, directory: Directory, now: dt.datetime) -> int:
    """Queue one page per person of the alert's tier; record it on the timeline; schedule the next page."""
    community = directory.community(entry.community)
    if community is None:
        return 0
    emergency = directory.county.emergency
    duty = on_duty(community, alert.opened_at, entry.compound)
    people = tier_people(alert.tier, community, directory.county, duty)
    while not people and alert.tier > 0:
        alert.tier -= 1  # nobody configured at this tier: keep paging the tier below
        people = tier_people(alert.tier, community, directory.county, duty)
    tier = TIERS[alert.tier]
    base = get_settings().public_url.rstrip("/")
    queued = []
    for person in people:
        to = _recipient(tier, person)
        token, _ = signer().issue(purpose=ACK_PURPOSE, subject=alert.id, audience=to.key[:128], ttl=ACK_TTL, now=now)
        subject = "【红色警报】" + ("（升级）" if alert.tier else "") + scrub_text(entry.title)[:40]
        queued.append(
            _notice(
                entry,
                key=f"page:{alert.id}:{alert.tier}:{alert.pages}:{to.key}",
                to=to,
                subject=subject,
                body=_page_body(community, entry, alert.tier, f"{base}/m/ack/{token}"),
                kind="red_alert",
                due_at=now,
            )
        )
    await notices.enqueue(uow, queued, now=now)
    alert.pages += 1
    slow = TOP_TIER_EVERY if alert.tier == len(TIERS) - 1 and alert.pages > emergency.pages_per_tier else 1
    alert.next_page_at = now + dt.timedelta(minutes=emergency.repage_minutes * slow)
    uow.session.add(alert)
    note = notes.paged(tier, len(queued), alert.pages)
    append(uow.session, entry, actor=SYSTEM, action="page", from_state=entry.state, note=note, at=now)
    return len(queued)


async def open_alert(uow: UnitOfWork, entry: Entry, now: dt.datetime) -> Alert:
    """Open the red alert of the entry's round (once) and page the people on call at once."""
    existing = await uow.session.get(Alert, alert_id(entry.id, entry.round))
    if existing is not None:
        return existing
    alert = Alert(
        id=alert_id(entry.id, entry.round),
        entry_id=entry.id,
        community=entry.community,
        round=entry.round,
        opened_at=now,
        next_page_at=now,
    )
    uow.session.add(alert)
    await _page(uow, entry, alert, load_directory(), now)
    return alert


async def open_alert_of(session, entry: Entry) -> Alert | None:
    """The open alert of the entry's current round, if any."""
    alert = await session.get(Alert, alert_id(entry.id, entry.round))
    return alert if alert is not None and alert.status == "open" else None


async def acknowledge(session, entry: Entry, alert: Alert, *, by: str, via: str, now: dt.datetime) -> bool:
    """Mark the alert acknowledged (once) and note it on the timeline; False when it already was."""
    if alert.status != "open":
        return False
    alert.status, alert.acked_at, alert.acked_by, alert.ack_via, alert.next_page_at = "acknowledged", now, by, via, None
    session.add(alert)
    append(session, entry, actor=by, action="ack", from_state=entry.state, note=notes.acknowledged(via), at=now)
    return True


def first_action(entry: Entry, now: dt.datetime) -> None:
    """Record the entry's first response (claim, start or progress) once."""
    if entry.first_action_due is not None and entry.first_action_at is None:
        entry.first_action_at = now


async def tick(uow: UnitOfWork, now: dt.datetime) -> int:
    """Re-page or escalate every open alert whose next page is due; flag late first responses. Return pages."""
    s = uow.session
    directory = load_directory()
    due = (
        await s.exec(
            select(Alert)
            .where(Alert.status == "open", Alert.next_page_at.is_not(None), Alert.next_page_at <= now)
            .order_by(Alert.next_page_at)
            .limit(200)
            .with_for_update(skip_locked=True)
        )
    ).all()
    pages = 0
    for alert in due:
        entry = await s.get(Entry, alert.entry_id)
        if entry is None or entry.state in DONE_STATES or entry.round != alert.round:
            alert.status, alert.next_page_at = "closed", None
            s.add(alert)
            continue
        if now - alert.opened_at.replace(tzinfo=alert.opened_at.tzinfo or dt.UTC) > GIVE_UP:
            alert.status, alert.next_page_at = "closed", None
            s.add(alert)
            note = notes.ALERT_GAVE_UP
            append(s, entry, actor=SYSTEM, action="page", from_state=entry.state, note=note, at=now)
            continue
        tier, escalate = next_tier(alert.tier, alert.pages, directory.county.emergency.pages_per_tier)
        if escalate:
            alert.tier, alert.pages = tier, 0
            note = notes.alert_escalated(TIERS[tier])
            append(s, entry, actor=SYSTEM, action="escalate_alert", from_state=entry.state, note=note, at=now)
        pages += await _page(uow, entry, alert, directory, now)
    pages += await _late_first_actions(uow, directory, now)
    await _gauge(s, now)
    return pages


async def _gauge(s, now: dt.datetime) -> None:
    """Refresh the emergency gauges an operator alerts on (deploy/k8s PrometheusRule)."""
    unacked = (await s.exec(select(func.count()).select_from(Alert).where(Alert.status == "open"))).one()
    late = (
        await s.exec(
            select(func.count())
            .select_from(Entry)
            .where(
                Entry.level == "red",
                Entry.state.not_in(sorted(DONE_STATES)),
                or_(
                    Entry.overdue,
                    and_(Entry.first_action_at.is_(None), Entry.first_action_due < now),
                ),
            )
        )
    ).one()
    metrics.RED_UNACKNOWLEDGED.set(unacked)
    metrics.RED_LATE.set(late)


async def _late_first_actions(uow: UnitOfWork, directory: Directory, now: dt.datetime) -> int:
    """Red entries past their first-action deadline with no response: timeline note and the secretary told, once."""
    s = uow.session
    late = (
        await s.exec(
            select(Entry)
            .where(
                Entry.first_action_due.is_not(None),
                Entry.first_action_due < now,
                Entry.first_action_at.is_(None),
                Entry.state.not_in(sorted(DONE_STATES)),
            )
            .limit(200)
        )
    ).all()
    told = 0
    for entry in late:
        key = (entry.id, "first_action")
        seen = await s.exec(
            select(Reminder.id).where(
                Reminder.target_id == key[0], Reminder.kind == key[1], Reminder.deadline == entry.first_action_due
            )
        )
        if seen.first() is not None:
            continue
        s.add(
            Reminder(
                target_id=entry.id, entry_id=entry.id, kind="first_action", deadline=entry.first_action_due, sent_at=now
            )
        )
        note = notes.first_action_late(entry.first_action_due)
        append(s, entry, actor=SYSTEM, action="remind", from_state=entry.state, note=note, at=now)
        community = directory.community(entry.community)
        sec = secretary(community) if community else None
        if sec is not None:
            place = f"{_place(community, entry)}：{scrub_text(entry.title)[:120]}"
            body = f"{place}\n{note}\n责任单位：{entry.lead_unit or '待定'}"
            await notices.enqueue(
                uow,
                [
                    _notice(
                        entry,
                        key=f"first_action:{entry.id}:{entry.round}",
                        to=_recipient("secretary", sec),
                        subject="【首次响应超时】" + scrub_text(entry.title)[:40],
                        body=body,
                        kind="first_action_late",
                        due_at=now,
                    )
                ],
                now=now,
            )
        told += 1
    return told


async def notify_supervision(uow: UnitOfWork, entry: Entry, now: dt.datetime) -> int:
    """Tell the party secretary that an entry became a supervised matter (督办件)."""
    community = load_directory().community(entry.community)
    sec = secretary(community) if community else None
    if sec is None:
        return 0
    body = (
        f"{_place(community, entry)}：{scrub_text(entry.title)[:120]}\n"
        f"居民两轮评价不满意，已升级为社区党组织督办件，请牵头研究整改。\n新时限：{_local(entry.deadline)}"
    )
    notice = _notice(
        entry,
        key=f"supervise:{entry.id}:{entry.round}",
        to=_recipient("secretary", sec),
        subject="【督办件】" + scrub_text(entry.title)[:40],
        body=body,
        kind="supervision",
        due_at=now,
    )
    return await notices.enqueue(uow, [notice], now=now)


async def remind_unit(
    uow: UnitOfWork, entry: Entry, unit: str | None, *, kind: str, kind_zh: str, deadline: dt.datetime, now: dt.datetime
) -> int:
    """Queue a deadline reminder to the unit's contacts (else the party secretary); non-red waits out quiet hours."""
    community = load_directory().community(entry.community)
    if community is None:
        return 0
    people = contacts_of(community, unit)
    tier = "unit"
    if not people:
        sec = secretary(community)
        people, tier = ((sec,) if sec else ()), "secretary"
    due = now if entry.level == "red" else (quiet_until(now, TZ) or now)
    lines = [
        f"{_place(community, entry)}：{scrub_text(entry.title)[:120]}",
        f"{kind_zh}：办结时限 {_local(deadline)}",
        f"责任单位：{unit or '待定'}",
    ]
    if tier == "secretary" and unit:
        lines.append("（该单位在名录中无联系人，请社区转告）")
    batch = [
        _notice(
            entry,
            key=f"remind:{entry.id}:{kind}:{deadline.isoformat()}:{unit}:{person.name}",
            to=_recipient(tier, person),
            subject=f"【{kind_zh}】" + scrub_text(entry.title)[:40],
            body="\n".join(lines),
            kind=f"reminder_{kind}",
            due_at=due,
        )
        for person in people
    ]
    return await notices.enqueue(uow, batch, now=now)
