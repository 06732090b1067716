"""Owners' votes (Civil Code art. 278) on the entry's timeline, in words (owner_vote.closed.v1)."""

from __future__ import annotations

import logging

from services.contracts import Envelope, events
from services.ledger.handlers import _view_of, entry_of
from services.ledger.service import SYSTEM, clean, note_only
from services.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)
_NUMERALS = "零一二三四五六七八九"
RULE_ZH = {"major": "须四分之三以上同意", "ordinary": "须过半数同意"}
MAX_PENDING = 20


def vote_note(data: events.OwnerVoteClosed) -> str:
    """The vote's result as a person reads it on the timeline (aggregates only)."""
    item = f"民法典第二百七十八条第一款第（{_NUMERALS[data.item]}）项" if data.item else "民法典第二百七十八条"
    if data.passed:
        result = "表决通过"
    elif not data.participation_met:
        result = "参与表决的业主不足三分之二，表决无效"
    else:
        result = "同意票未达法定比例，表决未通过"
    question = clean(data.question, 200) or ""
    return (
        f"业主共同决定「{question}」（{item}，{RULE_ZH[data.rule]}）：{result}。"
        f"参与表决 {data.voted_owners}/{data.total_owners} 户、"
        f"专有部分面积 {data.voted_area_m2}/{data.total_area_m2} 平方米；"
        f"同意 {data.for_owners} 户、{data.for_area_m2} 平方米"
    )


async def on_owner_vote_closed(uow: UnitOfWork, env: Envelope, data: events.OwnerVoteClosed) -> None:
    """Put the result on the matter's entry; before the entry exists, keep it for the entry to take."""
    note = vote_note(data)
    entry = await entry_of(uow.session, env, data.matter_id)
    if entry is not None:
        note_only(uow.session, entry, note, actor=SYSTEM, event_id=env.id)
        return
    view = await _view_of(uow.session, env, data.matter_id)
    if view is None:
        log.warning("ledger.owner_vote_without_matter matter=%s vote=%s", data.matter_id, data.vote_id)
        return
    if note not in view.pending_notes:
        view.pending_notes = [*view.pending_notes, note][-MAX_PENDING:]
        uow.session.add(view)
