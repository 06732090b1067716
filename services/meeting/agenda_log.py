"""The agenda's history as people read it: every change (the planner's and the convenor's) with its label."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlmodel import select

from services.meeting.models import AgendaChange, QueuedMatter, aware

ACTION_ZH = {
    "propose": "自动提议",
    "add": "增加议题",
    "remove": "撤下议题",
    "move": "调整顺序",
    "pin": "定为本月议题",
    "unpin": "取消本月议题",
    "withdraw": "自动撤出（改判或转为紧急议事）",
}

# The reasons meeting itself writes into the agenda and hall histories, with their English words (a staff-typed
# reason reads as typed in both languages).
TO_THIS_SESSION = "议程设置：列入该议事会"
TO_SITE_INSPECTION = "改为现场勘察"
REASONS_EN = {
    TO_THIS_SESSION: "Agenda set: put on this session's agenda",
    TO_SITE_INSPECTION: "Moved to a site inspection",
}


def reason_en(reason: str | None) -> str | None:
    """The English of a history reason: meeting's own sentences in words, the staff's as typed."""
    return REASONS_EN.get(reason, reason) if reason else reason


class AgendaChangeOut(BaseModel):
    """One audited change of the agenda: who, when, what."""

    at: dt.datetime
    actor: str
    action: str
    action_label: str
    matter_id: str
    title: str | None
    from_position: int | None
    to_position: int | None
    reason: str | None
    reason_en: str | None = Field(None, description="The reason in English words (a staff-typed reason as typed)")


async def changes_of(db, session_id: str) -> list[AgendaChangeOut]:
    """A session's agenda history, oldest first, with the topics' titles."""
    q = (
        select(AgendaChange, QueuedMatter.title)
        .join(QueuedMatter, QueuedMatter.matter_id == AgendaChange.matter_id, isouter=True)
        .where(AgendaChange.session_id == session_id)
        .order_by(AgendaChange.id)
    )
    rows = (await db.exec(q)).all()
    return [
        AgendaChangeOut(
            at=aware(c.at),
            actor=c.actor,
            action=c.action,
            action_label=ACTION_ZH.get(c.action, c.action),
            matter_id=c.matter_id,
            title=title,
            from_position=c.from_position,
            to_position=c.to_position,
            reason=c.reason,
            reason_en=reason_en(c.reason),
        )
        for c, title in rows
    ][-500:]
