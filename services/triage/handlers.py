"""Triage's event handlers (分类领办); staff's grade changes go through service.apply_regrade."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_
from sqlalchemy import text as sql_text
from sqlmodel import select

from services.contracts import Envelope, events, labels
from services.runtime.consumer import Reject
from services.runtime.directory import Community, load_directory
from services.runtime.uow import UnitOfWork
from services.triage import domain, history, similar
from services.triage.domain import CATEGORIES, Grade, PhraseAdditions, cluster_key
from services.triage.grader import grade
from services.triage.models import Matter, MatterReport, Regrade
from services.triage.reasons import Reason, columns, count_en, paired

# A report joins an open matter of the same place and category created at most this long before it.
CLUSTER_WINDOW = dt.timedelta(hours=72)
MAX_CANDIDATES = 50  # open matters of the same place compared with a new report (the newest)
MAX_REPORT_IDS = 1000  # matter.triaged.v1 carries at most this many report ids (the newest)
LEVEL_RANK = {"green": 0, "yellow": 1, "red": 2}
LEVEL_LABELS = labels.zh_map("level")
ROUTE_LABELS = labels.zh_map("route")
_MERGE_PREFIX = "合并报事"
_STAFF_PREFIX = "人工改判"
_STAFF_PREFIX_EN = "Staff regrade"
SUPERSEDED = "（已被人工改判取代）"
SUPERSEDED_EN = " (superseded by a staff regrade)"
MAX_REASONS = 48  # lines kept before a new one is added (the event carries at most 50)
# Automatic reasons that state a head's value: after staff change that head they would contradict the grade.
_HEAD_REASONS = {
    "level": ("等级：", "规则：红色一律上会议事", "模型判断可能为红色", "危险词：", "危险：", "表述含糊", "需人工复核"),
    "route": ("上会议事：", "直接办理：", "路线：", "规则：红色一律上会议事"),
    "category": ("类别：",),
}


def supersede(reasons: list[Reason], changed: set[str]) -> list[Reason]:
    """Mark the automatic reasons about the changed heads as superseded, so no reason contradicts the grade."""
    stale = tuple(p for head in changed for p in _HEAD_REASONS[head])

    def mark(r: Reason) -> Reason:
        return r.then(SUPERSEDED, SUPERSEDED_EN if r.en else "")

    return [mark(r) if stale and r.startswith(stale) and not r.endswith(SUPERSEDED) else r for r in reasons]


def reasons_of(m: Matter) -> list[Reason]:
    """A matter's reasons as lines with their English twins."""
    return paired(list(m.reasons), list(m.reasons_en or ()))


def set_reasons(m: Matter, lines: list[Reason]) -> None:
    """Store a matter's reasons: the Chinese and the English lists, line for line."""
    m.reasons, m.reasons_en = columns(lines)


def add_reason(m: Matter, line: Reason) -> None:
    """Append one reason (the oldest beyond MAX_REASONS dropped from the end of the list, as before)."""
    set_reasons(m, [*reasons_of(m)[:MAX_REASONS], line.cut()])


def phrase_additions(community: Community | None) -> PhraseAdditions:
    """The community's extra triage phrases from the directory (keys: danger, vulnerable or category ids)."""
    if community is None:
        return PhraseAdditions()
    phrases = community.phrases or {}
    return PhraseAdditions(
        danger=tuple(phrases.get("danger", ())),
        vulnerable=tuple(phrases.get("vulnerable", ())),
        categories={k: tuple(v) for k, v in phrases.items() if k in CATEGORIES},
    )


def stated_households(text: str) -> int:
    """Households a report's text states ('12户'), at least 1."""
    # The domain's own parser, so the count matches what grade() reads from the text.
    return domain._households_from_text(domain.normalise(text), 1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def snapshot(m: Matter) -> dict:
    """The grade of a matter as stored in the audit trail."""
    return {
        "level": m.level,
        "route": m.route,
        "category": m.category,
        "kind": m.kind,
        "confidence": m.confidence,
        "needs_review": m.needs_review,
        "reporters": m.reporters,
        "households": m.households,
    }


async def report_rows(uow: UnitOfWork, matter_id: str) -> list[MatterReport]:
    """The reports of a matter, oldest first."""
    q = (
        select(MatterReport)
        .where(MatterReport.matter_id == matter_id)
        .order_by(MatterReport.received_at, MatterReport.report_id)
    )
    return list((await uow.session.exec(q)).all())


async def emit_triaged(uow: UnitOfWork, m: Matter, reports: list[MatterReport]) -> None:
    """Announce a matter with its grade, its reasons and all of its report ids."""
    zh, _ = columns(reasons_of(m))
    await uow.emit(
        "matter.triaged.v1",
        community=m.community,
        subject=m.id,
        data=events.MatterTriaged(
            matter_id=m.id,
            report_ids=[r.report_id for r in reports][-MAX_REPORT_IDS:],
            title=m.title,
            place=events.Place(compound=m.compound, building=m.building, unit=m.unit),
            kind=m.kind,
            category=m.category,
            level=m.level,
            route=m.route,
            reasons=zh[:50],
            confidence=min(1.0, max(0.0, m.confidence)),
            needs_review=m.needs_review,
            households=max(1, m.households),
            reporters=max(1, m.reporters),
            triaged_at=_now(),
            due_by=min((_aware(r.due_by) for r in reports if r.due_by), default=None),
        ),
    )


async def emit_regraded(uow: UnitOfWork, m: Matter, before: dict, *, by: str, reason: str) -> None:
    """Announce a grade change with the previous grade, who and why."""
    await uow.emit(
        "matter.regraded.v1",
        community=m.community,
        subject=m.id,
        data=events.MatterRegraded(
            matter_id=m.id,
            level=m.level,
            route=m.route,
            category=m.category,
            previous=events.GradeSnapshot(level=before["level"], route=before["route"], category=before["category"]),
            by=by[:128],
            reason=reason[:500],
            regraded_at=_now(),
        ),
    )


def _audit(m: Matter, before: dict, *, by: str, reason: str, text: str, action: str = "regrade") -> Regrade:
    return Regrade(
        action=action,
        matter_id=m.id,
        community=m.community,
        by=by[:128],
        reason=reason[:500],
        text=text[:5000],
        before=before,
        after=snapshot(m),
        at=_now(),
    )


def _texts(reports: list[MatterReport]) -> str:
    return "\n".join(r.text for r in reports if r.text)


async def lock_cluster(uow: UnitOfWork, community: str, key: str) -> None:
    """Serialise replicas on one cluster key (PostgreSQL advisory transaction lock; SQLite is serial already)."""
    bind = uow.session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await uow.session.exec(
            sql_text("SELECT pg_advisory_xact_lock(hashtext(:k))").bindparams(k=f"{community}|{key}")
        )


def place_prefix(community: str, compound: str | None) -> str:
    """The leading part of the cluster keys of one compound ("community|compound|")."""
    return cluster_key(community, compound, None, "other").rsplit("|", 2)[0] + "|"


def _building_of(key: str) -> str:
    return key.rsplit("|", 2)[1]


async def find_cluster(
    uow: UnitOfWork, community: str, key: str, at: dt.datetime, text: str, place_words: tuple[str, ...] = ()
) -> Matter | None:
    """The open matter of this place (window before `at`) whose reports' wording is most like `text`, if any.

    Place must agree: same community and compound, and the same building when both have one. Content must
    agree: `similar.similarity` with the matter's newest reports at or above `similar.THRESHOLD`. Category is
    not required to match (the same leak reads as drainage in one report and property management in another).
    """
    prefix, building = key.rsplit("|", 2)[0] + "|", _building_of(key)
    # The place is checked in the query, not on loaded rows: loading every open matter of the compound to keep
    # one building's was a quarter of triage's time in the saturated pipeline (issue 23).
    place = Matter.cluster_key.startswith(prefix, autoescape=True)
    if building != "-":
        same, unknown = (Matter.cluster_key.startswith(f"{prefix}{b}|", autoescape=True) for b in (building, "-"))
        place = or_(same, unknown)
    q = (
        select(Matter)
        .where(
            Matter.community == community,
            place,
            Matter.status == "open",
            Matter.created_at >= at - CLUSTER_WINDOW,
        )
        .order_by(Matter.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    candidates = list((await uow.session.exec(q)).all())
    if not candidates:
        return None
    rows = await uow.session.exec(
        select(MatterReport.matter_id, MatterReport.text)
        .where(MatterReport.matter_id.in_([m.id for m in candidates]))
        .order_by(MatterReport.received_at.desc())
    )
    texts: dict[str, list[str]] = {}
    for matter_id, body in rows.all():
        if len(texts.setdefault(matter_id, [])) < similar.MAX_COMPARED:
            texts[matter_id].append(body)
    best, best_score = None, similar.THRESHOLD
    for m in candidates:
        score = similar.similarity(text, texts.get(m.id, [m.title]), place_words)
        if score >= best_score:
            best, best_score = m, score
    if best is not None:
        await uow.session.refresh(best, with_for_update=True)
    return best


async def on_report_received(uow: UnitOfWork, env: Envelope, data: events.ReportReceived) -> None:
    """Grade a report and file it under a new or an existing matter (一事一议); emit matter.triaged.v1."""
    if await uow.session.get(MatterReport, data.report_id) is not None:
        return  # the same report again (redelivered under another event id): nothing new
    community = load_directory().community(env.community)
    if community is None:
        raise Reject(f"unknown community {env.community!r}")
    extra = phrase_additions(community)
    g = grade(
        data.text,
        channel=data.channel,
        kind_hint=data.kind,
        category_hint=data.category_hint,
        extra=extra,
    )
    now = _now()
    received = min(_aware(data.received_at), now)
    place = data.place
    key = cluster_key(env.community, place.compound, place.building, g.category)
    row = MatterReport(
        report_id=data.report_id,
        matter_id="",
        reporter_ref=data.reporter.ref[:128],
        text=data.text,
        households_stated=stated_households(data.text),
        channel=data.channel,
        received_at=received,
        due_by=data.due_by,
    )
    # Reports without a compound are not merged: "similar wording somewhere in the community" is too coarse.
    matter = None
    if place.compound:
        # Without the lock, two replicas grading two reports of a new cluster would both find nothing and
        # create two matters; FOR UPDATE cannot lock a row that does not exist yet.
        # The lock is per compound: a report may join a matter of another category or an unknown building.
        await lock_cluster(uow, env.community, place_prefix(env.community, place.compound))
        words = similar.place_words(place.compound, place.building, place.unit)
        matter = await find_cluster(uow, env.community, key, received, data.text, words)
    if matter is None:
        matter = _new_matter(env.community, place, data.text, g, key, row.households_stated, now)
        uow.session.add(matter)
        row.matter_id = matter.id
        uow.session.add(row)
        await uow.session.flush()
        await emit_triaged(uow, matter, [row])
        return
    row.matter_id = matter.id
    uow.session.add(row)
    await uow.session.flush()
    reports = await report_rows(uow, matter.id)
    await _join(uow, matter, reports, data, extra, now)


def _new_matter(
    community: str, place: events.Place, text: str, g: Grade, key: str, households: int, now: dt.datetime
) -> Matter:
    return Matter(
        id=f"mat_{uuid.uuid4().hex[:20]}",
        community=community,
        compound=place.compound,
        building=place.building,
        unit=place.unit,
        title=(text.strip() or "（无内容）")[:200],
        kind=g.kind,
        category=g.category,
        level=g.level,
        route=g.route,
        reasons=[str(r) for r in g.reasons],
        reasons_en=list(g.reasons_en),
        confidence=g.confidence,
        needs_review=g.needs_review,
        households=max(1, households),
        reporters=1,
        cluster_key=key,
        status="open",
        created_at=now,
        updated_at=now,
        version=1,
    )


async def _join(
    uow: UnitOfWork,
    m: Matter,
    reports: list[MatterReport],
    data: events.ReportReceived,
    extra: PhraseAdditions,
    now: dt.datetime,
) -> None:
    """Regrade a matter that a new report joined; the level is never lowered automatically."""
    before = snapshot(m)
    reporters = len({r.reporter_ref for r in reports})
    households = max([reporters, *(r.households_stated for r in reports)])
    g = grade(
        data.text,
        channel=data.channel,
        kind_hint=data.kind,
        category_hint=m.category,
        households=households,
        reporters=reporters,
        extra=extra,
    )
    level = g.level if LEVEL_RANK[g.level] > LEVEL_RANK[m.level] else m.level
    route = "deliberate" if level == "red" or "deliberate" in (m.route, g.route) else "direct"
    raised = level != m.level or route != m.route
    lines = reasons_of(m)
    if raised:
        lines = list(g.reasons)
        m.confidence = g.confidence
        m.needs_review = m.needs_review or g.needs_review
    m.level, m.route = level, route
    m.reporters, m.households = reporters, households
    merged = Reason(
        f"{_MERGE_PREFIX} {len(reports)} 条（{reporters} 人反映，涉及 {households} 户）",
        f"{count_en(len(reports), 'report')} joined ({count_en(reporters, 'person', 'people')} reported it, "
        f"{count_en(households, 'household')} affected)",
    )
    set_reasons(m, [r for r in lines if not r.startswith(_MERGE_PREFIX)][:MAX_REASONS] + [merged])
    m.updated_at = now
    m.version += 1
    uow.session.add(m)
    if raised:
        reason = history.joined(reporters, households, before, snapshot(m))
        uow.session.add(_audit(m, before, by="triage", reason=reason, text=_texts(reports), action="auto"))
        await emit_regraded(uow, m, before, by="triage", reason=reason)
    await uow.session.flush()
    await emit_triaged(uow, m, reports)


async def on_matter_closed(uow: UnitOfWork, env: Envelope, data: events.MatterClosed) -> None:
    """A crossed-off matter (销号) is closed: no new reports join it and it cannot be regraded."""
    m = await uow.session.get(Matter, data.matter_id, with_for_update=True)
    if m is None:
        return  # not one of ours (or not yet known): nothing to close
    if m.community != env.community:
        raise Reject(f"matter.closed claims community {env.community!r} for a matter of another community")
    if m.status != "open":
        return  # closed already, or merged into another matter (whose own close counts)
    m.status = "closed"
    m.updated_at = _now()
    m.version += 1
    uow.session.add(m)
