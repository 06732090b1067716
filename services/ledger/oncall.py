"""Pure rules of the emergency path: who is on call (值班) for a red matter, and the escalation tiers.

No I/O: the directory's community and county are passed in. Times are read in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.ledger.domain import TZ
from services.runtime.directory import Community, County, Member, Shift

TIERS = ("on_call", "secretary", "county")
TIER_ZH = {"on_call": "值班人员", "secretary": "社区党组织书记", "county": "县级值班"}


@dataclass(frozen=True)
class Duty:
    """Who leads a red matter now: the lead party and unit, and the people to page first."""

    lead_party: str
    lead_unit: str | None
    people: tuple[Member, ...]


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def covers(shift: Shift, at: dt.datetime) -> bool:
    """Whether `shift` is on at `at`; a shift over midnight belongs to the day it starts."""
    local = at.astimezone(TZ)
    day, now = local.isoweekday(), local.hour * 60 + local.minute
    start, end = _minutes(shift.start), _minutes(shift.end)
    if start == end:
        return day in shift.days
    if start < end:
        return day in shift.days and start <= now < end
    yesterday = 7 if day == 1 else day - 1
    return (day in shift.days and now >= start) or (yesterday in shift.days and now < end)


def _people(community: Community, shift: Shift) -> tuple[Member, ...]:
    out = []
    for person in shift.people:
        member = community.member(person) if isinstance(person, str) else person
        if member is not None:
            out.append(member)
    return tuple(out)


def _unit_of(community: Community, lead: str, compound: str | None, people: tuple[Member, ...]) -> str | None:
    if lead == "property_company" and compound:
        found = community.compound(compound)
        if found is not None and found.property_company:
            return found.property_company
    roster_unit = next((m.unit for m in community.roster.get(lead, []) if m.unit), None)
    return next((m.unit for m in people if m.unit), None) or roster_unit


def on_duty(community: Community, at: dt.datetime, compound: str | None = None) -> Duty:
    """The duty at `at`: the first shift covering it, else the party organisation's roster (never nobody)."""
    shift = next((s for s in community.on_call.shifts if covers(s, at)), None)
    if shift is None:
        people = tuple(community.roster.get("party_org", [])[:2])
        return Duty("party_org", _unit_of(community, "party_org", compound, people), people)
    people = _people(community, shift) or tuple(community.roster.get(shift.lead, [])[:2])
    return Duty(shift.lead, shift.unit or _unit_of(community, shift.lead, compound, people), people)


def secretary(community: Community) -> Member | None:
    """The community's party secretary: the roster's named one, else the first party_org member titled 书记."""
    party_org = community.roster.get("party_org", [])
    if community.on_call.secretary:
        return next((m for m in party_org if m.name == community.on_call.secretary), None)
    return next((m for m in party_org if m.role and "书记" in m.role), party_org[0] if party_org else None)


def tier_people(tier: int, community: Community, county: County, duty: Duty) -> tuple[Member, ...]:
    """Whom to page at escalation tier `tier` (0 on call, 1 the party secretary, 2 the county operators)."""
    if tier <= 0:
        return duty.people
    if tier == 1:
        sec = secretary(community)
        return (sec,) if sec is not None else ()
    return tuple(county.operators)


def next_tier(tier: int, pages: int, pages_per_tier: int) -> tuple[int, bool]:
    """After `pages` unacknowledged pages at `tier`: (tier to page next, whether that is an escalation)."""
    last = len(TIERS) - 1
    if pages < pages_per_tier or tier >= last:
        return tier, False
    return tier + 1, True


def contacts_of(community: Community, unit: str | None) -> tuple[Member, ...]:
    """Who to remind for a responsible unit: its roster members, else a department's contacts, else nobody."""
    if not unit:
        return ()
    members = tuple(m for people in community.roster.values() for m in people if m.unit == unit)
    if members:
        return members
    return next((tuple(d.contacts) for d in community.departments if unit in (d.name, d.code)), ())
