"""Calendars (RFC 5545): a community's sessions and a participant's sessions as subscribable feeds.

Community feeds need a staff bearer token. Participant feeds are for calendar apps, which cannot send
one: the URL holds an unguessable token, an HMAC of (community, party, name) under the server secret
(runtime.signing), handed out by the party organisation (GET /v1/halls/{community}/feeds).
"""

from __future__ import annotations

import datetime as dt
import uuid

from icalendar import Calendar, Event, vCalAddress, vText
from sqlmodel import select

from services.meeting import domain, planner
from services.meeting.models import AgendaItem, MeetingSession, QueuedMatter, aware
from services.runtime import signing
from services.runtime.directory import PARTIES, Community, Member, load_directory
from services.runtime.privacy import scrub_text

PRODID = "-//Jinxi County//Five-Party Deliberation Hall 五方议事厅//ZH"
KIND_ZH = {"emergency": "紧急议事会", "fixed_day": "固定议事日议事会", "site_inspection": "现场勘察"}
FEED_PURPOSE = "meeting.calendar.participant"
PAST_DAYS = 90  # feeds carry the last three months and everything ahead
MAX_EVENTS = 500


def feed_token(community: str, party: str, name: str) -> str:
    """The participant's calendar feed token (stable while the server secret stays)."""
    return signing.token(FEED_PURPOSE, f"{community}\x1f{party}\x1f{name}")


def find_member(token: str) -> tuple[Community, str, Member] | None:
    """The roster member whose feed token this is (constant-time compare over the roster)."""
    found = None
    for community in load_directory().communities:
        for party in PARTIES:
            for m in community.roster.get(party, []):
                if signing.matches(token, feed_token(community.code, party, m.name)):
                    found = (community, party, m)
    return found


def _address(*parts: str) -> str:
    """A stable calendar address that carries no personal data (phones and mails stay out)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'hall:' + ':'.join(parts))}"


def organizer(community: Community) -> vCalAddress:
    """The convener: the community's party organisation."""
    unit = next((m.unit for m in community.roster.get("party_org", []) if m.unit), None) or f"{community.name}党组织"
    addr = vCalAddress(_address(community.code, "party_org"))
    addr.params["CN"] = vText(unit)
    return addr


def uid_domain() -> str:
    """The right-hand side of event UIDs: the county deployment."""
    return f"{load_directory().county.code}.hall"


def session_event(s: MeetingSession, titles: list[str], community: Community, *, stamp: dt.datetime) -> Event:
    """One VEVENT for a session: stable UID, SEQUENCE, status, local start with TZID."""
    ev = Event()
    ev.add("uid", f"{s.id}@{uid_domain()}")
    ev.add("dtstamp", stamp)
    ev.add("sequence", s.sequence)
    start = aware(s.starts_at).astimezone(domain.TZ)
    ev.add("dtstart", start)
    ev.add("dtend", start + dt.timedelta(hours=1 if s.kind != "fixed_day" else 2))
    ev.add("summary", f"{community.name}{KIND_ZH.get(s.kind, s.kind)}")
    ev.add("location", s.place)
    lines = [f"议题 Agenda（{len(titles)}）："] + [f"{i}. {scrub_text(t)[:120]}" for i, t in enumerate(titles, 1)]
    ev.add("description", "\n".join(lines))
    ev.add("status", "CANCELLED" if s.status == "cancelled" else "CONFIRMED")
    ev.add("organizer", organizer(community))
    for inv in s.invitees:
        who = vCalAddress(_address(community.code, inv["party"], inv["name"]))
        who.params["CN"] = vText(inv["name"])
        who.params["ROLE"] = vText("REQ-PARTICIPANT" if inv["party"] != "department" else "OPT-PARTICIPANT")
        who.params["CUTYPE"] = vText("INDIVIDUAL" if inv["party"] != "department" else "GROUP")
        ev.add("attendee", who, encode=0)
    return ev


def build_calendar(
    name: str, sessions: list[MeetingSession], titles: dict[str, list[str]], community: Community
) -> bytes:
    """A VCALENDAR with its VTIMEZONE and one VEVENT per session."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for s in sessions:
        cal.add_component(session_event(s, titles.get(s.id, []), community, stamp=stamp))
    cal.add_missing_timezones()
    return cal.to_ical()


async def sessions_of(db, community: str) -> tuple[list[MeetingSession], dict[str, list[str]]]:
    since = planner.utcnow() - dt.timedelta(days=PAST_DAYS)
    q = (
        select(MeetingSession)
        .where(
            MeetingSession.community == community,
            MeetingSession.starts_at >= since,
            MeetingSession.status != "adjourned",
        )
        .order_by(MeetingSession.starts_at)
        .limit(MAX_EVENTS)
    )
    rows = list((await db.exec(q)).all())
    titles: dict[str, list[str]] = {s.id: [] for s in rows}
    q2 = (
        select(AgendaItem.session_id, QueuedMatter.title)
        .join(QueuedMatter, QueuedMatter.matter_id == AgendaItem.matter_id)
        .where(AgendaItem.session_id.in_(list(titles)))
        .order_by(AgendaItem.session_id, AgendaItem.position)
    )
    for sid, title in (await db.exec(q2)).all():
        titles[sid].append(title)
    return rows, titles
