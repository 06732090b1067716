"""iCalendar feeds built from real sessions and parsed back with the icalendar library; feed tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from icalendar import Calendar
from sqlmodel import select

from services.meeting import calendars, domain, handlers, planner
from services.meeting.app import spec
from services.meeting.models import MeetingSession
from services.runtime.directory import load_directory
from tests.support import sqlite_store
from tests.unit.test_meeting_service import NOW, triaged

pytestmark = pytest.mark.unit

PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")  # not inside a UID's hex


@pytest.fixture(autouse=True)
def _clock(monkeypatch, tmp_path):
    monkeypatch.setattr(planner, "utcnow", lambda: NOW.astimezone(dt.UTC))
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


async def _calendar(store) -> tuple[Calendar, list[MeetingSession]]:
    community = load_directory().community("xueyuan")
    async with store.db.session() as db:
        rows, titles = await calendars.sessions_of(db, "xueyuan")
    return Calendar.from_ical(calendars.build_calendar("学苑社区议事日历", rows, titles, community)), rows


async def test_calendar_parses_back_with_required_properties(store, monkeypatch):
    env, data = triaged("mat_ics1", level="red")
    data = data.model_copy(update={"title": "12号楼2单元301下水道堵 联系13812345678"})
    await store.handle(handlers.on_matter_triaged, env, data)
    await store.handle(handlers.on_matter_triaged, *triaged("mat_ics2"))
    cal, rows = await _calendar(store)
    assert cal["PRODID"] == calendars.PRODID and str(cal["VERSION"]) == "2.0"
    (tz,) = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Shanghai"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"{s.id}@jinxi.hall" for s in rows}
    emergency = next(s for s in rows if s.kind == "emergency")
    ev = events[f"{emergency.id}@jinxi.hall"]
    assert ev["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert ev.decoded("DTSTART") == domain.emergency_slot(NOW)
    assert int(ev["SEQUENCE"]) == 0 and str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["LOCATION"]) == "学苑社区党群服务中心一楼五方议事厅"
    description = str(ev["DESCRIPTION"])
    assert "下水道堵" in description and "13812345678" not in description and "301" not in description
    assert ev["ORGANIZER"].params["CN"] == "学苑社区党委"
    names = {str(a.params["CN"]) for a in ev.get("ATTENDEE")}
    assert {"章文斌", "傅振宇", "刘秀英", "危俊峰", "程立新"} <= names
    assert not PHONE.search(cal.to_ical().decode())


async def test_cancel_and_reschedule_bump_sequence_and_status(store):
    await store.handle(handlers.on_matter_triaged, *triaged("mat_ics3", level="red"))
    async with store.uow() as uow:
        (s,) = (await uow.session.exec(select(MeetingSession))).all()
        s.starts_at, s.sequence = s.starts_at + dt.timedelta(hours=2), s.sequence + 1
        uow.session.add(s)
        await planner.emit_scheduled(uow, s, status="rescheduled")
        await uow.commit()
    cal, _ = await _calendar(store)
    (ev,) = cal.walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 1 and ev.decoded("DTSTART") == domain.emergency_slot(NOW) + dt.timedelta(hours=2)
    async with store.uow() as uow:
        s = await uow.session.get(MeetingSession, s.id)
        s.status, s.sequence = "cancelled", s.sequence + 1
        uow.session.add(s)
        await uow.commit()
    cal, _ = await _calendar(store)
    (ev,) = cal.walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 2 and str(ev["STATUS"]) == "CANCELLED"


def test_feed_tokens_are_stable_distinct_and_resolve_to_their_member():
    a = calendars.feed_token("xueyuan", "party_org", "章文斌")
    assert a == calendars.feed_token("xueyuan", "party_org", "章文斌") and len(a) == 32
    assert a != calendars.feed_token("xueyuan", "party_org", "胡晓玲")
    assert a != calendars.feed_token("jinshan", "party_org", "章文斌")
    community, party, member = calendars.find_member(a)
    assert (community.code, party, member.name) == ("xueyuan", "party_org", "章文斌")
    assert calendars.find_member("x" * 32) is None


def test_feed_tokens_depend_on_the_server_secret(monkeypatch):
    from services.runtime.settings import get_settings

    before = calendars.feed_token("xueyuan", "party_org", "章文斌")
    monkeypatch.setenv("HALL_SIGNING_SECRET", "another-secret-for-this-test")
    get_settings.cache_clear()
    assert calendars.feed_token("xueyuan", "party_org", "章文斌") != before
