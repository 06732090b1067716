"""Triage's use cases staff call through the API: regrade a matter, confirm its grade."""

from __future__ import annotations

from services.contracts import labels
from services.runtime.uow import UnitOfWork
from services.triage import history
from services.triage.domain import CATEGORIES, cluster_key
from services.triage.handlers import (
    _STAFF_PREFIX,
    _STAFF_PREFIX_EN,
    _audit,
    _now,
    _texts,
    add_reason,
    emit_regraded,
    reasons_of,
    report_rows,
    set_reasons,
    snapshot,
    supersede,
)
from services.triage.models import Matter, Regrade
from services.triage.reasons import Reason


class RegradeError(Exception):
    """A staff regrade that cannot be applied; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, zh: str, en: str, field: str | None = None):
        super().__init__(en)
        self.status, self.zh, self.en, self.field = status, zh, en, field


async def apply_regrade(
    uow: UnitOfWork,
    m: Matter,
    *,
    by: str,
    who: str = "工作人员",
    who_en: str = "Staff",
    level: str,
    route: str,
    category: str | None,
    reason: str,
) -> Regrade:
    """A staff override: store the new grade and an audit row, clear the review flag, emit matter.regraded.v1."""
    if m.status != "open":
        zh = "事项已合并到其他事项，请调整合并后的事项" if m.status == "merged" else "事项已销号，不能再调整分级"
        raise RegradeError(409, zh, f"Matter is {m.status}; it cannot be regraded")
    if level == "red" and route != "deliberate":
        raise RegradeError(422, "红色事项必须上会议事", "A red matter must go to deliberation", field="route")
    category = category or m.category
    if category not in CATEGORIES:
        raise RegradeError(422, f"未知类别「{category}」", f"Unknown category {category!r}", field="category")
    before = snapshot(m)
    heads = (
        ("等级", "Level", "level", m.level, level),
        ("办理方式", "Route", "route", m.route, route),
        ("类别", "Category", "category", m.category, category),
    )
    # In words: staff read these reasons (红→黄 / Red→Yellow, never red→yellow).
    changes = [
        f"{name} {labels.zh(group, old)}→{labels.zh(group, new)}" for name, _, group, old, new in heads if old != new
    ]
    changes_en = [
        f"{name} {labels.en(group, old)}→{labels.en(group, new)}" for _, name, group, old, new in heads if old != new
    ]
    changed = {h for h, old, new in (("level", m.level, level), ("route", m.route, route),
                                      ("category", m.category, category)) if old != new}  # fmt: skip
    set_reasons(m, supersede(reasons_of(m), changed))
    m.level, m.route = level, route
    if category != m.category:
        m.category = category
        m.cluster_key = cluster_key(m.community, m.compound, m.building, category)
    m.needs_review = False
    m.confidence = 1.0
    note = Reason(
        f"{_STAFF_PREFIX}（{who}）：{'，'.join(changes) or '维持原分级'}；理由：{reason}",
        f"{_STAFF_PREFIX_EN} ({who_en}): {', '.join(changes_en) or 'grade kept'}; reason: {reason}",
    )
    add_reason(m, note)
    m.updated_at = _now()
    m.version += 1
    uow.session.add(m)
    audit = _audit(m, before, by=by, reason=reason, text=_texts(await report_rows(uow, m.id)))
    uow.session.add(audit)
    await uow.session.flush()
    await emit_regraded(uow, m, before, by=by, reason=reason)
    return audit


async def confirm_grade(
    uow: UnitOfWork, m: Matter, *, by: str, note: str | None, who: str = "工作人员", who_en: str = "Staff"
) -> Regrade:
    """Staff accept a flagged grade as is: clear needs_review, audit a confirmation (a label), change nothing else."""
    if m.status != "open":
        zh = "事项已合并到其他事项，无需复核" if m.status == "merged" else "事项已销号，无需复核"
        raise RegradeError(409, zh, f"Matter is {m.status}; there is nothing to review")
    if not m.needs_review:
        raise RegradeError(409, "该事项不在待复核队列中", "Matter is not waiting for review")
    before = snapshot(m)
    m.needs_review = False
    line = Reason(
        f"{_STAFF_PREFIX}（{who}）：确认原分级" + (f"；备注：{note}" if note else ""),
        f"{_STAFF_PREFIX_EN} ({who_en}): grade confirmed as it was" + (f"; note: {note}" if note else ""),
    )
    add_reason(m, line)
    m.updated_at = _now()
    m.version += 1
    uow.session.add(m)
    reason = history.confirmed(note)
    text = _texts(await report_rows(uow, m.id))
    audit = _audit(m, before, by=by, reason=reason, text=text, action="confirm")
    uow.session.add(audit)
    await uow.session.flush()
    return audit
