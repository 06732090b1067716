"""The agenda's history as people read it: every change (the planner's and the convenor's) with its label."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
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
        )
        for c, title in rows
    ][-500:]
