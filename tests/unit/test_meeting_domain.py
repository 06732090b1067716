"""Unit tests for the pure meeting scheduling rules."""

from __future__ import annotations

import datetime as dt
import logging
from datetime import datetime, time, timedelta

import chinese_calendar
import pytest

from services.meeting import domain
from services.meeting.domain import (
    TZ,
    AgendaCandidate,
    FixedDayRule,
    emergency_slot,
    joins_emergency,
    next_fixed_day,
    plan_agenda,
    priority,
)
from services.runtime import workcal

pytestmark = pytest.mark.unit


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


# --- parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("每月15日 09:00", FixedDayRule(15, None, None, time(9, 0))),
        ("每月15号 9:00", FixedDayRule(15, None, None, time(9, 0))),
        ("  每月1日 8:30 ", FixedDayRule(1, None, None, time(8, 30))),
        ("每月31日 19:05", FixedDayRule(31, None, None, time(19, 5))),
        ("每月１５日　０９：００", FixedDayRule(15, None, None, time(9, 0))),  # full-width input
        ("每月第二个星期四 14:30", FixedDayRule(None, 2, 3, time(14, 30))),
        ("每月第2个周四 14:30", FixedDayRule(None, 2, 3, time(14, 30))),
        ("每月第一个星期一 10:00", FixedDayRule(None, 1, 0, time(10, 0))),
        ("每月第四个周日 16:00", FixedDayRule(None, 4, 6, time(16, 0))),
        ("每月第三个星期天 16:00", FixedDayRule(None, 3, 6, time(16, 0))),
        ("每月最后一个星期五 09:00", FixedDayRule(None, -1, 4, time(9, 0))),
        ("每月最后一个周六 09:00", FixedDayRule(None, -1, 5, time(9, 0))),
    ],
)
def test_parse_good_rules(text: str, expected: FixedDayRule) -> None:
    assert FixedDayRule.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "每月15日",  # no time
        "15日 09:00",  # no 每月
        "每周四 14:30",  # weekly, not monthly
        "每月0日 09:00",
        "每月32日 09:00",
        "每月15日 24:00",
        "每月15日 09:60",
        "每月第五个星期四 14:30",  # only 1..4 or 最后一个
        "每月第0个星期四 14:30",
        "每月第二个星期八 14:30",
        "每月第二个 14:30",
        "every month on the 15th 09:00",
    ],
)
def test_parse_bad_rules_raise_bilingual(text: str) -> None:
    with pytest.raises(ValueError) as info:
        FixedDayRule.parse(text)
    message = str(info.value)
    assert "/" in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)
    assert any(ch.isascii() and ch.isalpha() for ch in message)


def test_constructor_rejects_inconsistent_rules() -> None:
    with pytest.raises(ValueError):
        FixedDayRule(15, 2, 3, time(9))
    with pytest.raises(ValueError):
        FixedDayRule(None, None, None, time(9))
    with pytest.raises(ValueError):
        FixedDayRule(None, 5, 3, time(9))


@pytest.mark.parametrize("text", ["每月15日 09:00", "每月第二个星期四 14:30", "每月最后一个星期五 09:00"])
def test_str_round_trips(text: str) -> None:
    rule = FixedDayRule.parse(text)
    assert FixedDayRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("每月15日 09:00", "the 15th of each month, 09:00"),
        ("每月1日 8:30", "the 1st of each month, 08:30"),
        ("每月22日 10:00", "the 22nd of each month, 10:00"),
        ("每月13日 10:00", "the 13th of each month, 10:00"),
        ("每月第一个星期三 19:30", "the first Wednesday of each month, 19:30"),
        ("每月第二个星期四 14:30", "the second Thursday of each month, 14:30"),
        ("每月最后一个星期五 09:00", "the last Friday of each month, 09:00"),
        ("每月第四个周日 16:00", "the fourth Sunday of each month, 16:00"),
    ],
)
def test_the_rule_in_english_words(text: str, english: str) -> None:
    rule = FixedDayRule.parse(text)
    assert rule.en() == english
    assert english.isascii()  # no Chinese left, and no code: only words, numbers and the time


def test_nominal_date() -> None:
    assert FixedDayRule.parse("每月31日 09:00").nominal_date(2026, 2) == dt.date(2026, 2, 28)
    assert FixedDayRule.parse("每月31日 09:00").nominal_date(2028, 2) == dt.date(2028, 2, 29)
    assert FixedDayRule.parse("每月31日 09:00").nominal_date(2026, 4) == dt.date(2026, 4, 30)
    assert FixedDayRule.parse("每月第二个星期四 14:30").nominal_date(2026, 10) == dt.date(2026, 10, 8)
    assert FixedDayRule.parse("每月第一个星期四 14:30").nominal_date(2026, 1) == dt.date(2026, 1, 1)
    assert FixedDayRule.parse("每月最后一个星期五 09:00").nominal_date(2026, 1) == dt.date(2026, 1, 30)
    assert FixedDayRule.parse("每月最后一个星期六 09:00").nominal_date(2026, 1) == dt.date(2026, 1, 31)


# --- next_fixed_day over 2026 ------------------------------------------------------------------------

# Worked by hand from the 2026 calendar (State Council notice), then cross-checked below:
# Feb 15 is a Sunday inside 春节 (Feb 15-23) -> Tue Feb 24; Mar 15, Nov 15 Sundays -> Monday;
# Aug 15 Saturday -> Mon Aug 17; Oct 15 Thursday is after National Day (Oct 1-7) -> stays.
FIFTEENTH_2026 = {
    1: dt.date(2026, 1, 15),
    2: dt.date(2026, 2, 24),
    3: dt.date(2026, 3, 16),
    4: dt.date(2026, 4, 15),
    5: dt.date(2026, 5, 15),
    6: dt.date(2026, 6, 15),
    7: dt.date(2026, 7, 15),
    8: dt.date(2026, 8, 17),
    9: dt.date(2026, 9, 15),
    10: dt.date(2026, 10, 15),
    11: dt.date(2026, 11, 16),
    12: dt.date(2026, 12, 15),
}

# Second Thursdays of 2026; all are workdays (Oct 8 is the first workday after National Day).
SECOND_THURSDAY_2026 = {
    1: dt.date(2026, 1, 8),
    2: dt.date(2026, 2, 12),
    3: dt.date(2026, 3, 12),
    4: dt.date(2026, 4, 9),
    5: dt.date(2026, 5, 14),
    6: dt.date(2026, 6, 11),
    7: dt.date(2026, 7, 9),
    8: dt.date(2026, 8, 13),
    9: dt.date(2026, 9, 10),
    10: dt.date(2026, 10, 8),
    11: dt.date(2026, 11, 12),
    12: dt.date(2026, 12, 10),
}


def test_hand_computed_dates_agree_with_chinese_calendar() -> None:
    # Guard the hand-made tables against a misread of the official calendar.
    assert not chinese_calendar.is_workday(dt.date(2026, 2, 15))
    assert not chinese_calendar.is_workday(dt.date(2026, 2, 23))
    assert chinese_calendar.is_workday(dt.date(2026, 2, 24))
    assert not chinese_calendar.is_workday(dt.date(2026, 10, 7))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))
    for table in (FIFTEENTH_2026, SECOND_THURSDAY_2026):
        for day in table.values():
            assert chinese_calendar.is_workday(day)


@pytest.mark.parametrize("month", range(1, 13))
def test_next_fixed_day_15th_every_month_2026(month: int) -> None:
    rule = FixedDayRule.parse("每月15日 09:00")
    expected = datetime.combine(FIFTEENTH_2026[month], time(9, 0), tzinfo=TZ)
    # From the 1st of the month (the previous month's session is already over) ...
    assert next_fixed_day(rule, at(2026, month, 1)) == expected
    # ... and from one minute before the session itself.
    assert next_fixed_day(rule, expected - timedelta(minutes=1)) == expected


@pytest.mark.parametrize("month", range(1, 13))
def test_next_fixed_day_second_thursday_every_month_2026(month: int) -> None:
    rule = FixedDayRule.parse("每月第二个星期四 14:30")
    expected = datetime.combine(SECOND_THURSDAY_2026[month], time(14, 30), tzinfo=TZ)
    assert next_fixed_day(rule, at(2026, month, 1)) == expected
    assert next_fixed_day(rule, expected - timedelta(seconds=1)) == expected


def test_next_fixed_day_is_strictly_after() -> None:
    rule = FixedDayRule.parse("每月15日 09:00")
    assert next_fixed_day(rule, at(2026, 4, 15, 9, 0)) == at(2026, 5, 15, 9, 0)
    # Between the nominal date and the shifted session the shifted one still counts.
    assert next_fixed_day(rule, at(2026, 2, 16)) == at(2026, 2, 24, 9, 0)


def test_next_fixed_day_year_end_rollover() -> None:
    rule = FixedDayRule.parse("每月15日 09:00")
    # 2027 is not yet in the official calendar: Mon-Fri fallback, Jan 15 2027 is a Friday.
    assert next_fixed_day(rule, at(2026, 12, 15, 9, 0)) == at(2027, 1, 15, 9, 0)
    thursday = FixedDayRule.parse("每月第二个星期四 14:30")
    assert next_fixed_day(thursday, at(2026, 12, 31, 23, 59)) == at(2027, 1, 14, 14, 30)


def test_make_up_workdays_count_as_workdays() -> None:
    # 调休: Sat Feb 14, Sat Feb 28 and Sat Oct 10 2026 are official workdays.
    for day in (dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 10, 10)):
        assert day.weekday() == 5 and chinese_calendar.is_workday(day)
    assert next_fixed_day(FixedDayRule.parse("每月10日 09:00"), at(2026, 10, 1)) == at(2026, 10, 10, 9)
    assert next_fixed_day(FixedDayRule.parse("每月第二个星期六 09:00"), at(2026, 2, 1)) == at(2026, 2, 14, 9)
    # Clamped 31st in February lands on Sat Feb 28, a make-up workday, so it stays.
    assert next_fixed_day(FixedDayRule.parse("每月31日 09:00"), at(2026, 2, 3)) == at(2026, 2, 28, 9)


def test_holiday_shift_into_next_month_is_not_skipped() -> None:
    # Sat Jan 31 2026 -> Mon Feb 2: asked on Feb 1, the January session is still ahead.
    rule = FixedDayRule.parse("每月31日 09:00")
    assert next_fixed_day(rule, at(2026, 2, 1, 10)) == at(2026, 2, 2, 9)


def test_national_day_shift() -> None:
    # Oct 1 2026 sits in the National Day holiday (Oct 1-7); the first workday after is Thu Oct 8.
    assert next_fixed_day(FixedDayRule.parse("每月1日 09:00"), at(2026, 9, 2)) == at(2026, 10, 8, 9)


def test_unknown_year_falls_back_to_monday_to_friday(caplog: pytest.LogCaptureFixture) -> None:
    rule = FixedDayRule.parse("每月15日 09:00")
    workcal.clear_cache()  # the warning comes once per unknown year and process
    with caplog.at_level(logging.WARNING):
        # Feb 15 2099 is a Sunday -> Monday; Aug 15 2099 is a Saturday -> Monday.
        assert next_fixed_day(rule, at(2099, 2, 1)) == at(2099, 2, 16, 9)
        assert next_fixed_day(rule, at(2099, 8, 1)) == at(2099, 8, 17, 9)
        assert next_fixed_day(rule, at(2099, 4, 1)) == at(2099, 4, 15, 9)
    assert "year_unknown" in caplog.text


def test_next_fixed_day_converts_other_zones_and_rejects_naive() -> None:
    rule = FixedDayRule.parse("每月15日 09:00")
    # 2026-04-15 00:30 UTC is 08:30 in Shanghai, before that day's 09:00 session.
    result = next_fixed_day(rule, datetime(2026, 4, 15, 0, 30, tzinfo=dt.UTC))
    assert result == at(2026, 4, 15, 9) and result.tzinfo == TZ
    with pytest.raises(ValueError):
        next_fixed_day(rule, datetime(2026, 4, 1))


# --- emergency ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2026, 3, 10, 10, 7), at(2026, 3, 10, 11, 15)),  # 11:07 rounded up
        (at(2026, 3, 10, 20, 50), at(2026, 3, 11, 8, 0)),  # 21:50 is after day_end
        (at(2026, 3, 10, 23, 30), at(2026, 3, 11, 8, 0)),  # 00:30 is before day_start
        (at(2026, 3, 10, 3, 0), at(2026, 3, 10, 8, 0)),  # 04:00 is before day_start
        (at(2026, 3, 10, 10, 0), at(2026, 3, 10, 11, 0)),  # already on a quarter hour
        (at(2026, 2, 17, 10, 7), at(2026, 2, 17, 11, 15)),  # 春节 holiday: emergencies do not wait
    ],
)
def test_emergency_slot(now: datetime, expected: datetime) -> None:
    assert emergency_slot(now) == expected


def test_emergency_slot_edges() -> None:
    # 19:50 + 1h = 20:50 -> 21:00, which is day_end (exclusive) -> next morning.
    assert emergency_slot(at(2026, 3, 10, 19, 50)) == at(2026, 3, 11, 8, 0)
    # 19:44 + 1h = 20:44 -> 20:45, still inside the window.
    assert emergency_slot(at(2026, 3, 10, 19, 44)) == at(2026, 3, 10, 20, 45)
    # Seconds count: 10:00:01 + 1h rounds up to 11:15.
    assert emergency_slot(at(2026, 3, 10, 10, 0) + timedelta(seconds=1)) == at(2026, 3, 10, 11, 15)


def test_emergency_slot_never_exceeds_within_hours() -> None:
    # 23:30 with a 2-hour ceiling: waiting for 08:00 is too late, so meet at 00:30.
    assert emergency_slot(at(2026, 3, 10, 23, 30), within_hours=2) == at(2026, 3, 11, 0, 30)
    assert emergency_slot(at(2026, 3, 10, 20, 50), within_hours=6) == at(2026, 3, 10, 22, 0)


def test_emergency_slot_custom_window_and_zone() -> None:
    slot = emergency_slot(datetime(2026, 3, 10, 2, 7, tzinfo=dt.UTC), lead_minutes=30)
    assert slot == at(2026, 3, 10, 10, 45) and slot.tzinfo == TZ
    assert emergency_slot(at(2026, 3, 10, 6, 0), day_start=time(7, 30)) == at(2026, 3, 10, 7, 30)
    with pytest.raises(ValueError):
        emergency_slot(at(2026, 3, 10, 6, 0), day_start=time(21), day_end=time(8))


def test_joins_emergency() -> None:
    now = at(2026, 3, 10, 10, 7)  # candidate slot 11:15
    assert joins_emergency(at(2026, 3, 10, 11, 0), "金泰和庄", "金泰和庄", now)
    assert joins_emergency(at(2026, 3, 10, 12, 0), "金泰和庄", "金泰和庄", now)
    assert not joins_emergency(at(2026, 3, 10, 12, 15), "金泰和庄", "金泰和庄", now)  # exactly 1h apart
    assert not joins_emergency(at(2026, 3, 10, 11, 0), "金泰和庄", "幸福小区", now)  # other compound
    assert not joins_emergency(at(2026, 3, 10, 11, 0), None, None, now)  # unknown compound
    assert not joins_emergency(at(2026, 3, 10, 10, 7), "金泰和庄", "金泰和庄", now)  # already started
    assert not joins_emergency(at(2026, 3, 10, 10, 30), "金泰和庄", "金泰和庄", at(2026, 3, 10, 10, 31))
    # An explicit candidate slot overrides the default computation.
    assert joins_emergency(at(2026, 3, 10, 10, 30), "金泰和庄", "金泰和庄", now, candidate=at(2026, 3, 10, 10, 45))


# --- agenda ------------------------------------------------------------------------------------------

NOW = at(2026, 3, 12, 14, 30)


def cand(mid: str, level: str, days_ago: float, households: int = 1, carried: int = 0) -> AgendaCandidate:
    return AgendaCandidate(mid, level, NOW - timedelta(days=days_ago), households, carried)


def ids(items: list[AgendaCandidate]) -> list[str]:
    return [c.matter_id for c in items]


def test_yellow_before_green_then_older_then_households() -> None:
    cs = [
        cand("g-old", "green", 10),
        cand("y-new", "yellow", 2),
        cand("y-old", "yellow", 5),
        cand("y-new-big", "yellow", 2, households=40),
    ]
    taken, rolled = plan_agenda(cs, 10, NOW)
    assert ids(taken) == ["y-old", "y-new-big", "y-new", "g-old"]
    assert rolled == []


def test_capacity_rollover() -> None:
    cs = [cand(f"y{i}", "yellow", i) for i in range(5)] + [cand("g", "green", 1)]
    taken, rolled = plan_agenda(cs, 3, NOW)
    assert ids(taken) == ["y4", "y3", "y2"]
    assert ids(rolled) == ["y1", "y0", "g"]
    assert plan_agenda(cs, 0, NOW) == ([], sorted(cs, key=lambda c: priority(c, NOW)))
    with pytest.raises(ValueError):
        plan_agenda(cs, -1, NOW)


def test_ageing_lifts_old_green_above_fresh_yellow() -> None:
    fresh_yellow = cand("y", "yellow", 1)
    assert ids(plan_agenda([cand("g", "green", 29), fresh_yellow], 1, NOW)[0]) == ["y"]
    # 30 full days: one step up; it ties yellow's level and wins on age.
    assert ids(plan_agenda([cand("g", "green", 30), fresh_yellow], 1, NOW)[0]) == ["g"]
    # 60 days: strictly above even an older yellow that has not aged.
    assert ids(plan_agenda([cand("g", "green", 60), cand("y", "yellow", 29)], 1, NOW)[0]) == ["g"]


def test_carry_over_counts_as_ageing() -> None:
    # Queued recently but already rolled over twice (e.g. re-queued): lifted by two steps.
    g = cand("g", "green", 3, carried=2)
    y = cand("y", "yellow", 20)
    assert ids(plan_agenda([y, g], 1, NOW)[0]) == ["g"]
    # Carry-overs and days waiting are the same wait: the larger counts, they are not added.
    one_month_one_carry = cand("g1", "green", 31, carried=1)
    assert priority(one_month_one_carry, NOW)[1] == 1


def test_aged_yellow_stays_ahead_of_equally_aged_green() -> None:
    taken, _ = plan_agenda([cand("g", "green", 95), cand("y", "yellow", 90)], 1, NOW)
    assert ids(taken) == ["y"]


def test_red_goes_first() -> None:
    cs = [cand("y", "yellow", 300, households=99), cand("r", "red", 0), cand("g", "green", 400)]
    taken, rolled = plan_agenda(cs, 1, NOW)
    assert ids(taken) == ["r"]
    assert ids(rolled) == ["g", "y"]  # 400 days vs 300 days of ageing


def test_priority_rejects_unknown_level_and_is_deterministic() -> None:
    with pytest.raises(ValueError):
        priority(cand("x", "blue", 1), NOW)
    same = [cand("b", "yellow", 3), cand("a", "yellow", 3)]
    assert ids(plan_agenda(same, 2, NOW)[0]) == ["a", "b"]
    assert priority(cand("u", "YELLOW", 1), NOW)[1] == 1


# --- quorum: the five parties make it; departments and parties concerned never do ----------------


def test_quorum_counts_the_five_parties_only():
    five = {p: ["x"] for p in domain.FIVE_PARTIES}
    assert domain.missing_parties(domain.FIVE_PARTIES, five) == []
    # A blank name is nobody; the missing ones come in the quorum's order.
    thin = {**five, "partner_unit": ["  "], "owners_committee": []}
    assert domain.missing_parties(domain.FIVE_PARTIES, thin) == ["owners_committee", "partner_unit"]
    # Departments or parties concerned in the attendance do not stand in for a missing party.
    crowd = {**thin, "department": ["县住房保障中心"], "concerned": ["一楼门市业主"]}
    assert domain.missing_parties(domain.FIVE_PARTIES, crowd) == ["owners_committee", "partner_unit"]
    # A hall may require fewer parties, never someone outside the five.
    assert domain.missing_parties(["party_org", "property_company"], thin) == []
    with pytest.raises(ValueError, match="五方"):
        domain.missing_parties(["department"], crowd)
    assert domain.clean_attendance({"party_org": [" 章文斌 ", ""], "resident_rep": [" "]}) == {"party_org": ["章文斌"]}


@pytest.mark.parametrize(
    ("kind", "starts", "now", "ok"),
    [
        ("fixed_day", "2025-06-02T09:00", "2025-06-01T23:59", False),
        ("fixed_day", "2025-06-02T09:00", "2025-06-02T00:00", True),
        ("fixed_day", "2025-06-02T09:00", "2025-09-01T10:00", True),
        ("site_inspection", "2025-06-02T09:30", "2025-03-04T10:00", False),
        ("emergency", "2025-06-02T08:00", "2025-06-01T22:00", True),
    ],
)
def test_a_session_is_concluded_on_or_after_its_local_day(kind, starts, now, ok):
    at = lambda s: datetime.fromisoformat(s).replace(tzinfo=domain.TZ)  # noqa: E731
    assert domain.may_conclude(kind, at(starts), at(now)) is ok
    # The same instants in UTC: the day is Asia/Shanghai's, not UTC's (00:00 CST is 16:00 UTC the day before).
    assert domain.may_conclude(kind, at(starts).astimezone(dt.UTC), at(now).astimezone(dt.UTC)) is ok
