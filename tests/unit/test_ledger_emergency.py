"""The emergency path in the ledger: on-call duty, a red entry at grading, pages, escalation, acks, supervision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.ledger import alerts, handlers, oncall
from services.ledger.app import spec
from services.ledger.domain import TZ
from services.ledger.figures import tally
from services.ledger.models import Alert, Entry, TimelineItem, notices
from services.runtime import directory
from services.runtime.directory import Shift, load_directory
from services.runtime.notices import quiet_until
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)  # a Monday, office hours
MONDAY_23 = dt.datetime(2026, 12, 7, 23, 0, tzinfo=TZ)
SATURDAY_11 = dt.datetime(2026, 12, 12, 11, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory.clear_cache()
    yield
    directory.clear_cache()


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


def test_every_demo_community_has_someone_on_call_at_every_hour_of_the_week():
    d = load_directory()
    for community in d.communities:
        for half_hours in range(7 * 48):
            at = dt.datetime(2026, 12, 7, tzinfo=TZ) + dt.timedelta(minutes=30 * half_hours)
            assert any(oncall.covers(s, at) for s in community.on_call.shifts), (community.code, at)
            assert oncall.on_duty(community, at).people, (community.code, at)


def test_shifts_over_midnight_belong_to_the_day_they_start():
    night = Shift(start="18:00", end="08:00", days=[5])  # Friday night only
    assert oncall.covers(night, dt.datetime(2026, 12, 11, 19, tzinfo=TZ))  # Friday 19:00
    assert oncall.covers(night, dt.datetime(2026, 12, 12, 7, 59, tzinfo=TZ))  # Saturday 07:59
    assert not oncall.covers(night, dt.datetime(2026, 12, 12, 8, tzinfo=TZ))
    assert not oncall.covers(night, dt.datetime(2026, 12, 11, 7, tzinfo=TZ))  # Friday morning: Thursday's night


def test_duty_by_time_of_day():
    xueyuan = load_directory().community("xueyuan")
    day = oncall.on_duty(xueyuan, MONDAY_10, "jintaihezhuang")
    assert (day.lead_party, day.lead_unit) == ("property_company", "江西锦程物业服务有限公司")
    assert [p.name for p in day.people] == ["罗小兵", "傅振宇"]
    night = oncall.on_duty(xueyuan, MONDAY_23, "jintaihezhuang")
    assert (night.lead_party, night.lead_unit) == ("party_org", "学苑社区")
    assert [p.name for p in night.people] == ["艾伟东", "锦程物业夜间值班电话"]
    weekend = oncall.on_duty(xueyuan, SATURDAY_11)
    assert weekend.lead_party == "party_org" and [p.name for p in weekend.people] == ["胡晓玲", "艾伟东"]
    assert oncall.secretary(xueyuan).name == "章文斌"
    county = load_directory().county
    assert [p.name for p in oncall.tier_people(2, xueyuan, county, day)] == ["县社会治理指挥中心值班室"]


def test_escalation_tiers():
    assert oncall.next_tier(0, 1, 2) == (0, False)
    assert oncall.next_tier(0, 2, 2) == (1, True)
    assert oncall.next_tier(1, 2, 2) == (2, True)
    assert oncall.next_tier(2, 9, 2) == (2, False)  # the county keeps being paged


def test_quiet_hours():
    assert quiet_until(MONDAY_10, TZ) is None
    assert quiet_until(MONDAY_23, TZ) == dt.datetime(2026, 12, 8, 8, 0, tzinfo=TZ)
    assert quiet_until(dt.datetime(2026, 12, 8, 6, 0, tzinfo=TZ), TZ) == dt.datetime(2026, 12, 8, 8, 0, tzinfo=TZ)


def _red(matter_id: str = "mat_red", at: dt.datetime = MONDAY_10) -> tuple[Envelope, events.MatterTriaged]:
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="金泰和庄3号楼电梯困人，一位老人被困",
        place=events.Place(compound="jintaihezhuang", building="3"),
        kind="problem",
        category="elevator",
        level="red",
        route="deliberate",
        confidence=0.95,
        triaged_at=at,
    )
    env = Envelope.new(
        type="matter.triaged.v1",
        source="/services/test",
        community="xueyuan",
        subject=matter_id,
        data=data,
        time=at,
        sequence=1,
    )
    return env, data


async def red_entry(store, at: dt.datetime = MONDAY_10) -> Entry:
    env, data = _red(at=at)
    await store.handle(handlers.on_matter_triaged, env, data)
    async with store.db.session() as s:
        return (await s.exec(select(Entry).where(Entry.matter_id == "mat_red"))).one()


async def timeline(store, entry_id: str) -> list[TimelineItem]:
    async with store.db.session() as s:
        q = select(TimelineItem).where(TimelineItem.entry_id == entry_id).order_by(TimelineItem.seq)
        return list((await s.exec(q)).all())


async def sent(store, entry_id: str) -> list[dict]:
    async with store.db.session() as s:
        return await notices.of(s, entry_id)


async def tick(store, at: dt.datetime) -> int:
    async with store.uow(actor="ledger") as uow:
        n = await alerts.tick(uow, at)
        await uow.commit()
    return n


async def test_a_red_matter_is_an_assigned_entry_with_owner_clock_and_pages_at_grading(store):
    e = await red_entry(store)
    assert e.state == "assigned" and e.level == "red"
    assert (e.lead_party, e.lead_unit) == ("property_company", "江西锦程物业服务有限公司")
    assert e.first_action_due == MONDAY_10 + dt.timedelta(hours=4)
    assert e.deadline is not None and e.measures == handlers.RED_MEASURES
    assert [t.action for t in await timeline(store, e.id)] == ["register", "assign", "page"]
    (assigned,) = [x for x in await store.outbox() if x.type == "entry.assigned.v1"]
    assert assigned.data["lead_unit"] == "江西锦程物业服务有限公司" and assigned.data["state"] == "assigned"
    pages = await sent(store, e.id)
    assert [p["recipient"]["name"] for p in pages] == ["罗小兵", "傅振宇"]
    assert all(p["kind"] == "red_alert" and p["status"] == "pending" for p in pages)
    assert all("/m/ack/" in p["body"] and "红色" in p["body"] and "金泰和庄" in p["body"] for p in pages)
    # The same event again (a redelivery) changes nothing and pages nobody twice.
    env, data = _red()
    await store.handle(handlers.on_matter_triaged, env, data)
    assert len(await sent(store, e.id)) == 2


async def test_unacknowledged_alerts_repage_then_escalate_to_the_secretary_then_the_county(store):
    e = await red_entry(store)
    assert await tick(store, MONDAY_10 + dt.timedelta(minutes=4)) == 0  # not yet due
    assert await tick(store, MONDAY_10 + dt.timedelta(minutes=5)) == 2  # on call, second page
    assert await tick(store, MONDAY_10 + dt.timedelta(minutes=10)) == 1  # the party secretary
    assert await tick(store, MONDAY_10 + dt.timedelta(minutes=15)) == 1
    assert await tick(store, MONDAY_10 + dt.timedelta(minutes=20)) == 1  # the county operators
    names = [p["recipient"]["name"] for p in await sent(store, e.id)]
    assert names == ["罗小兵", "傅振宇", "罗小兵", "傅振宇", "章文斌", "章文斌", "县社会治理指挥中心值班室"]
    notes = [t.note for t in await timeline(store, e.id) if t.action == "escalate_alert"]
    assert notes == ["红色警报无人确认，升级呼叫社区党组织书记", "红色警报无人确认，升级呼叫县级值班"]


async def test_an_acknowledged_alert_stops_paging_and_the_timeline_says_who(store):
    e = await red_entry(store)
    async with store.uow(actor="罗小兵") as uow:
        entry = await uow.session.get(Entry, e.id)
        alert = await alerts.open_alert_of(uow.session, entry)
        assert await alerts.acknowledge(uow.session, entry, alert, by="罗小兵", via="link", now=MONDAY_10)
        assert not await alerts.acknowledge(uow.session, entry, alert, by="罗小兵", via="link", now=MONDAY_10)
        await uow.commit()
    assert await tick(store, MONDAY_10 + dt.timedelta(hours=1)) == 0
    last = (await timeline(store, e.id))[-1]
    assert (last.action, last.actor, last.note) == ("ack", "罗小兵", "已确认接警（通过通知链接）")


async def test_a_late_first_action_is_reported_to_the_secretary_once(store):
    e = await red_entry(store)
    async with store.uow(actor="ledger") as uow:  # acknowledged, but nobody acts
        entry = await uow.session.get(Entry, e.id)
        await alerts.acknowledge(
            uow.session, entry, await alerts.open_alert_of(uow.session, entry), by="x", via="console", now=MONDAY_10
        )
        await uow.commit()
    assert await tick(store, MONDAY_10 + dt.timedelta(hours=3, minutes=59)) == 0
    assert await tick(store, MONDAY_10 + dt.timedelta(hours=4, minutes=1)) == 1
    assert await tick(store, MONDAY_10 + dt.timedelta(hours=5)) == 0
    late = [p for p in await sent(store, e.id) if p["kind"] == "first_action_late"]
    assert [p["recipient"]["name"] for p in late] == ["章文斌"]


async def test_the_emergency_session_updates_the_same_entry(store):
    e = await red_entry(store)
    res = events.Resolution(
        matter_id="mat_red",
        outcome="resolved",
        measures="维保单位更换曳引机制动器，物业每日巡检",
        lead_party="property_company",
        lead_unit="江西锦程物业服务有限公司",
    )
    data = events.SessionConcluded(session_id="ses_e", kind="emergency", concluded_at=MONDAY_10, resolutions=[res])
    env = Envelope.new(
        type="session.concluded.v1", source="/services/test", community="xueyuan", subject="ses_e", data=data
    )
    await store.handle(handlers.on_session_concluded, env, data)
    async with store.db.session() as s:
        rows = (await s.exec(select(Entry))).all()
    assert [r.id for r in rows] == [e.id]
    assert rows[0].measures == "维保单位更换曳引机制动器，物业每日巡检" and rows[0].deadline == e.deadline


async def test_a_second_unsatisfied_round_makes_a_supervised_matter(store):
    e = await red_entry(store)
    async with store.db.session() as s:
        got = await s.get(Entry, e.id)
        got.state, got.round = "completed", 2
        await s.commit()
    data = events.MatterReopened(
        matter_id="mat_red", round=3, reasons=["电梯仍然异响"], escalate_to="party_org", reopened_at=MONDAY_23
    )
    env = Envelope.new(
        type="matter.reopened.v1",
        source="/services/test",
        community="xueyuan",
        subject="mat_red",
        data=data,
        time=MONDAY_23,
    )
    await store.handle(handlers.on_matter_reopened, env, data)
    async with store.db.session() as s:
        got = await s.get(Entry, e.id)
        total, _ = await tally(s, [Entry.community == "xueyuan"], [])
    assert got.supervised and got.state == "assigned" and got.round == 3
    assert (got.lead_party, got.lead_unit) == ("party_org", "学苑社区党委")
    assert got.deadline > MONDAY_23 and got.measures == handlers.SUPERVISED_MEASURES
    assert total.supervised == 1
    (notice,) = [p for p in await sent(store, e.id) if p["kind"] == "supervision"]
    assert notice["recipient"]["name"] == "章文斌" and "督办" in notice["body"]
    assert any("督办" in (t.note or "") for t in await timeline(store, e.id))


async def test_reminders_wait_out_quiet_hours_unless_red(store):
    e = await red_entry(store)
    async with store.uow(actor="ledger") as uow:
        entry = await uow.session.get(Entry, e.id)
        await alerts.remind_unit(
            uow, entry, entry.lead_unit, kind="warning", kind_zh="临期预警", deadline=entry.deadline, now=MONDAY_23
        )
        entry.level = "yellow"
        await alerts.remind_unit(
            uow, entry, entry.lead_unit, kind="overdue", kind_zh="超期催办", deadline=entry.deadline, now=MONDAY_23
        )
        await uow.commit()
    due = {p["kind"]: p["due_at"] for p in await sent(store, e.id) if p["kind"].startswith("reminder_")}
    assert due["reminder_warning"].astimezone(TZ) == MONDAY_23
    assert due["reminder_overdue"].astimezone(TZ) == dt.datetime(2026, 12, 8, 8, 0, tzinfo=TZ)


async def test_the_alert_of_a_round_is_opened_once(store):
    e = await red_entry(store)
    async with store.db.session() as s:
        alerts_ = (await s.exec(select(Alert))).all()
    assert [a.entry_id for a in alerts_] == [e.id] and alerts_[0].status == "open" and alerts_[0].pages == 1


async def test_the_emergency_gauges_count_unacknowledged_alerts_and_late_red_matters(store):
    from services.runtime import metrics

    await red_entry(store)
    await tick(store, MONDAY_10 + dt.timedelta(minutes=1))
    assert metrics.RED_UNACKNOWLEDGED._value.get() == 1 and metrics.RED_LATE._value.get() == 0
    await tick(store, MONDAY_10 + dt.timedelta(hours=4, minutes=1))  # past the first-action deadline
    assert metrics.RED_LATE._value.get() == 1
