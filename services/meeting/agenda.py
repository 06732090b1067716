"""The convenor sets the agenda (由社区党委班子共同研究，确定为当月主题): add, remove, move and pin topics.

The planner's automatic proposal is the starting point. The convenor's first change marks the agenda as
set (`agenda_set_by/at`): the planner adds nothing more to it, except topics the convenor pinned. Every
change, the planner's included, is an `agenda_change` row shown with the session.
"""

from __future__ import annotations

from sqlmodel import select

from services.meeting import agenda_log, api, planner, tiers
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, TierChange, aware
from services.runtime.auth import Principal
from services.runtime.directory import load_directory
from services.runtime.errors import Problem


def _before_start(s: MeetingSession) -> None:
    if aware(s.starts_at) <= planner.utcnow():
        raise Problem(409, "议事会已开始，议程不能再调整", "The session has started; its agenda is fixed")


async def items_of(uow, session_id: str) -> list[AgendaItem]:
    q = select(AgendaItem).where(AgendaItem.session_id == session_id).order_by(AgendaItem.position)
    return list((await uow.session.exec(q)).all())


async def renumber(
    uow, s: MeetingSession, order: list[AgendaItem], actor: str, reason: str | None, moved: str | None = None
) -> None:
    """Give the items their new positions; record the moved topic (or, for a new order, each that moved)."""
    for pos, item in enumerate(order, start=1):
        if item.position == pos:
            continue
        if moved in (None, item.matter_id):
            await planner.record(
                uow, s, "move", item.matter_id, actor=actor, from_position=item.position, to_position=pos, reason=reason
            )
        item.position = pos
        uow.session.add(item)


def set_agenda(s: MeetingSession, principal: Principal) -> None:
    if s.agenda_set_at is None:
        s.agenda_set_by, s.agenda_set_at = principal.sub[:128], planner.utcnow()


async def queued_of(uow, s: MeetingSession, matter_id: str) -> QueuedMatter:
    qm = await uow.session.get(QueuedMatter, matter_id)
    if qm is None or qm.community != s.community:
        raise Problem(404, "本社区待议事项中没有该事项", "Matter not known in this community", field="matter_id")
    return qm


async def add_item(uow, s: MeetingSession, qm: QueuedMatter, principal: Principal, position: int | None) -> None:
    if qm.session_id == s.id and qm.state == "scheduled":
        raise Problem(409, "该事项已在本次议程中", "Matter is already on this agenda", field="matter_id")
    if qm.state != "queued":
        label = api.STATE_ZH.get(qm.state, qm.state)
        raise Problem(
            409,
            f"只有待议事项可以列入议程（该事项：{label}）",
            f"Only queued matters can be added (matter is {qm.state})",
            field="matter_id",
            extra={"state": qm.state},
        )
    if qm.level == "red" and s.kind != "emergency":
        raise Problem(
            409,
            "红色事项须召开紧急议事会，不列入例会议程",
            "A red matter goes to an emergency session",
            field="matter_id",
        )
    if s.hall != tiers.COMMUNITY and (qm.compound != s.hall or qm.level == "red"):
        raise Problem(
            409,
            "小区议事会只议本小区的非红色事项",
            "A compound meeting takes only its own compound's non-red matters",
            field="matter_id",
        )
    community = load_directory().community(s.community)
    if community is not None and s.kind == "fixed_day" and planner.hall_of(community, qm) != s.hall:
        # The convenor takes it to this hall (or gives it to a compound meeting): record the tier with its reason.
        tier = tiers.COMMUNITY if s.hall == tiers.COMMUNITY else tiers.COMPOUND
        qm.tier_override = tier
        uow.session.add(
            TierChange(
                matter_id=qm.matter_id,
                community=qm.community,
                at=planner.utcnow(),
                actor=principal.sub[:128],
                action="set",
                to_tier=tier,
                session_id=s.id,
                reason=agenda_log.TO_THIS_SESSION,
            )
        )
    await planner.add_to_agenda(uow, s, qm, actor=principal.sub, position=position)


async def move_item(uow, s: MeetingSession, matter_id: str, position: int | None, principal: Principal, reason) -> None:
    if position is None:
        raise Problem(422, "调整顺序须指定位置", "A move needs a position", field="position")
    items = await items_of(uow, s.id)
    item = next((i for i in items if i.matter_id == matter_id), None)
    if item is None:
        raise Problem(404, "该事项不在本次议程中", "Matter is not on this agenda", field="matter_id")
    rest = [i for i in items if i is not item]
    rest.insert(min(position, len(items)) - 1, item)
    await renumber(uow, s, rest, principal.sub, reason, moved=matter_id)


async def load_session(uow, session_id: str, principal: Principal) -> MeetingSession:
    s = await api._load_for_update(uow, session_id, principal)
    _before_start(s)
    return s
