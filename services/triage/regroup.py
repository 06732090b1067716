"""Staff merge and split of matters (一事一议 by hand): reports move, both matters are audited, events follow."""

from __future__ import annotations

from sqlmodel import select

from services.contracts import events
from services.runtime.uow import UnitOfWork
from services.triage import history
from services.triage.domain import cluster_key
from services.triage.grader import grade
from services.triage.handlers import (
    LEVEL_RANK,
    _audit,
    _new_matter,
    _now,
    _texts,
    add_reason,
    emit_regraded,
    emit_triaged,
    report_rows,
    snapshot,
    stated_households,
)
from services.triage.models import Matter, MatterReport
from services.triage.reasons import Reason, count_en
from services.triage.service import RegradeError

MAX_SPLIT = 1000
_STATUS_WORDS = {"closed": "已销号", "merged": "已合并到其他事项"}


def _refuse_not_open(m: Matter, what: str, field: str | None = None) -> None:
    if m.status != "open":
        zh = f"{what}{_STATUS_WORDS.get(m.status, '已结束')}，不能再合并或拆分"
        raise RegradeError(409, zh, f"{'Target' if field else 'Matter'} is {m.status}; it cannot change", field)


def _headcount(m: Matter, reports: list[MatterReport]) -> None:
    m.reporters = max(1, len({r.reporter_ref for r in reports}))
    m.households = max([m.reporters, *(r.households_stated for r in reports)])


async def _lock(uow: UnitOfWork, ids: list[str]) -> dict[str, Matter]:
    """Lock matters in id order (two staff merging A into B and B into A at once must not deadlock)."""
    found = {}
    for matter_id in sorted(set(ids)):
        m = await uow.session.get(Matter, matter_id, with_for_update=True, populate_existing=True)
        if m is not None:
            found[matter_id] = m
    return found


async def merge(
    uow: UnitOfWork,
    source_id: str,
    into_id: str,
    *,
    by: str,
    reason: str,
    who: str = "工作人员",
    who_en: str = "Staff",
) -> tuple[Matter, bool]:
    """Merge `source_id` into `into_id`; returns the survivor and whether anything changed (False: done before)."""
    if source_id == into_id:
        raise RegradeError(422, "不能把事项合并到它自己", "A matter cannot be merged into itself", field="into")
    locked = await _lock(uow, [source_id, into_id])
    source, target = locked.get(source_id), locked.get(into_id)
    if source is None:
        raise RegradeError(404, "未找到该事项", "Matter not found")
    if target is None:
        raise RegradeError(422, "要合并到的事项不存在", "The matter to merge into does not exist", field="into")
    if source.community != target.community:
        raise RegradeError(422, "不能合并不同社区的事项", "Matters of different communities cannot be merged", "into")
    if source.status == "merged" and source.merged_into == target.id:
        return target, False  # the same merge again (a retried request): nothing more to do
    _refuse_not_open(source, "该事项")
    _refuse_not_open(target, "要合并到的事项", field="into")
    moved = await report_rows(uow, source.id)
    before_source, before_target = snapshot(source), snapshot(target)
    now = _now()
    for r in moved:
        r.matter_id = target.id
        uow.session.add(r)
    await uow.session.flush()
    reports = await report_rows(uow, target.id)
    _headcount(target, reports)
    raised = LEVEL_RANK[source.level] > LEVEL_RANK[target.level] or (
        source.route == "deliberate" and target.route == "direct"
    )
    if LEVEL_RANK[source.level] > LEVEL_RANK[target.level]:
        target.level = source.level
    if target.level == "red" or source.route == "deliberate":
        target.route = "deliberate"
    target.needs_review = target.needs_review or source.needs_review
    add_reason(
        target,
        Reason(
            f"合并事项（{who}）：并入「{source.title[:40]}」的 {len(moved)} 条报事；理由：{reason}",
            f"Merged ({who_en}): took in {count_en(len(moved), 'report')} of “{source.title[:40]}”; reason: {reason}",
        ),
    )
    target.updated_at, target.version = now, target.version + 1
    source.status, source.merged_into = "merged", target.id
    add_reason(
        source,
        Reason(
            f"已合并到事项「{target.title[:40]}」（{who}）：{reason}",
            f"Merged into the matter “{target.title[:40]}” ({who_en}): {reason}",
        ),
    )
    source.updated_at, source.version = now, source.version + 1
    uow.session.add_all([source, target])
    why = history.merged_into(target.title, reason)
    uow.session.add(_audit(source, before_source, by=by, reason=why, text=_texts(moved), action="merge"))
    why = history.took_in(source.title, reason)
    uow.session.add(_audit(target, before_target, by=by, reason=why, text=_texts(reports), action="merge"))
    await uow.session.flush()
    if moved:
        await uow.emit(
            "matter.merged.v1",
            community=source.community,
            subject=source.id,
            data=events.MatterMerged(
                matter_id=source.id,
                into=target.id,
                into_title=target.title,
                report_ids=[r.report_id for r in moved][-MAX_SPLIT:],
                by=by[:128],
                reason=reason[:500],
                merged_at=now,
            ),
        )
    if raised:
        await emit_regraded(uow, target, before_target, by=by, reason=why)
    await emit_triaged(uow, target, reports)
    return target, True


async def _divide(
    uow: UnitOfWork, source: Matter, wanted: list[str], rows: dict[str, MatterReport]
) -> tuple[list[MatterReport], list[MatterReport]]:
    """The reports that move and those that stay; refused unless the matter is open, owns them all and keeps one."""
    _refuse_not_open(source, "该事项")
    foreign = [i for i in wanted if i not in rows or rows[i].matter_id != source.id]
    if foreign:
        raise RegradeError(
            422,
            f"以下报事不属于该事项：{'、'.join(foreign[:5])}",
            f"Reports not in this matter: {', '.join(foreign[:5])}",
            field="report_ids",
        )
    current = await report_rows(uow, source.id)
    if len(wanted) >= len(current):
        raise RegradeError(
            422,
            "拆分后原事项至少要保留一条报事",
            "At least one report must stay with the matter",
            field="report_ids",
        )
    return [r for r in current if r.report_id in set(wanted)], [r for r in current if r.report_id not in set(wanted)]


async def split(
    uow: UnitOfWork,
    source_id: str,
    report_ids: list[str],
    *,
    by: str,
    reason: str,
    who: str = "工作人员",
    who_en: str = "Staff",
) -> tuple[Matter, bool]:
    """Move `report_ids` of a matter to a new matter graded like any; returns it and whether anything changed."""
    wanted = list(dict.fromkeys(report_ids))
    locked = await _lock(uow, [source_id])
    source = locked.get(source_id)
    if source is None:
        raise RegradeError(404, "未找到该事项", "Matter not found")
    rows = {
        r.report_id: r
        for r in (await uow.session.exec(select(MatterReport).where(MatterReport.report_id.in_(wanted)))).all()
    }
    done = {rows[i].matter_id for i in wanted if i in rows}
    if len(done) == 1 and len(rows) == len(wanted):
        earlier = await uow.session.get(Matter, done.pop())
        if earlier is not None and earlier.split_from == source.id:
            # The same split again: these reports already make a matter split off this one.
            left = await report_rows(uow, earlier.id)
            if {r.report_id for r in left} == set(wanted):
                return earlier, False
    moved, staying = await _divide(uow, source, wanted, rows)
    before = snapshot(source)
    now = _now()
    first = moved[0]
    text = _texts(moved)
    g = grade(text, channel=first.channel or "miniprogram", households=max(r.households_stated for r in moved),
              reporters=len({r.reporter_ref for r in moved}))  # fmt: skip
    place = events.Place(compound=source.compound, building=source.building, unit=source.unit)
    key = cluster_key(source.community, source.compound, source.building, g.category)
    new = _new_matter(source.community, place, first.text, g, key, stated_households(text), now)
    new.split_from = source.id
    add_reason(
        new,
        Reason(
            f"拆分事项（{who}）：自「{source.title[:40]}」拆出；理由：{reason}",
            f"Split ({who_en}): split off from “{source.title[:40]}”; reason: {reason}",
        ),
    )
    _headcount(new, moved)
    uow.session.add(new)
    for r in moved:
        r.matter_id = new.id
        uow.session.add(r)
    _headcount(source, staying)
    add_reason(
        source,
        Reason(
            f"拆分事项（{who}）：{len(moved)} 条报事另立事项「{new.title[:40]}」；理由：{reason}",
            f"Split ({who_en}): {count_en(len(moved), 'report')} moved to a new matter “{new.title[:40]}”; "
            f"reason: {reason}",
        ),
    )
    source.updated_at, source.version = now, source.version + 1
    uow.session.add(source)
    why = history.split_out(len(moved), reason)
    uow.session.add(_audit(source, before, by=by, reason=why, text=_texts(staying), action="split"))
    uow.session.add(_audit(new, {}, by=by, reason=history.split_from(reason), text=text, action="split"))
    await uow.session.flush()
    await uow.emit(
        "matter.split.v1",
        community=source.community,
        subject=source.id,
        data=events.MatterSplit(
            matter_id=source.id,
            new_matter_id=new.id,
            new_title=new.title,
            report_ids=[r.report_id for r in moved][-MAX_SPLIT:],
            by=by[:128],
            reason=reason[:500],
            split_at=now,
        ),
    )
    await emit_triaged(uow, new, moved)
    await emit_triaged(uow, source, staying)
    return new, True
