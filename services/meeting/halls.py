"""The halls (议事厅) as the directory defines them: parties, departments, place, fixed day, quorum."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from services.meeting import domain, planner, tiers
from services.runtime.auth import Principal
from services.runtime.authz import in_scope
from services.runtime.directory import PARTIES, Community, load_directory
from services.runtime.errors import Problem
from services.runtime.privacy import mask_phone

PARTY_ZH = {
    "party_org": "社区党组织",
    "owners_committee": "业主委员会",
    "property_company": "物业服务企业",
    "resident_rep": "居民代表",
    "partner_unit": "结对共建单位",
}


class MemberOut(BaseModel):
    """A named roster member; the phone is masked, e-mail and WeCom ids are not shown."""

    name: str
    unit: str | None
    role: str | None
    role_en: str | None = Field(None, description="The role in English words where the platform names it")
    phone: str | None


class PartyOut(BaseModel):
    """One of the five parties with its members."""

    party: str
    label: str
    members: list[MemberOut]


class CompoundHallOut(BaseModel):
    """A compound's own deliberation group (小区议事会): 小事不出小区."""

    compound: str
    compound_name: str
    name: str
    name_en: str = Field(description="The meeting in English words")
    place: str
    fixed_day: str
    fixed_day_en: str = Field(description="The fixed day in English words")
    next_fixed_days: list[dt.datetime]
    topics_per_session: int
    quorum: list[str]
    quorum_labels: list[str]
    categories: list[str] = Field(description="The matters it takes (the rest go to the community hall)")
    max_households: int
    parties: list[PartyOut] = Field(description="Its members, and the community's grid worker under 社区党组织")


def community_of(code: str, principal: Principal) -> Community:
    found = load_directory().community(code)
    if found is None or found.code != code:
        raise Problem(404, "未找到该社区", "Community not found")
    in_scope(principal, code)
    return found


def next_fixed_days(community: Community, now: dt.datetime, n: int = 3, hall: str = "community") -> list[dt.datetime]:
    """The next n fixed deliberation days of a hall (holidays and 调休 applied)."""
    rule = planner.rule_of(community, hall)
    out, when = [], now
    for _ in range(n):
        when = domain.next_fixed_day(rule, when)
        out.append(when)
    return out


def compound_hall(c: Community, code: str) -> CompoundHallOut:
    comp = c.compound(code)
    hall = comp.hall
    people: dict[str, list[MemberOut]] = {p: [] for p in PARTIES}
    for m in c.grid_workers_of(code):
        people["party_org"].append(
            MemberOut(name=m.name, unit=c.name, role="网格员", role_en="Grid worker", phone=mask_phone(m.phone))
        )
    for p, members in hall.members.items():
        people[p] += [MemberOut(name=m.name, unit=m.unit, role=m.role, phone=mask_phone(m.phone)) for m in members]
    return CompoundHallOut(
        compound=comp.code,
        compound_name=comp.name,
        name=planner.hall_name(c, comp.code),
        name_en=planner.hall_name_en(c, comp.code),
        place=hall.place,
        fixed_day=str(planner.rule_of(c, comp.code)),
        fixed_day_en=planner.rule_of(c, comp.code).en(),
        next_fixed_days=next_fixed_days(c, planner.utcnow(), hall=comp.code),
        topics_per_session=hall.topics_per_session,
        quorum=list(hall.quorum),
        quorum_labels=[PARTY_ZH[p] for p in hall.quorum],
        categories=list(hall.categories if hall.categories is not None else tiers.COMPOUND_CATEGORIES),
        max_households=hall.max_households,
        parties=[PartyOut(party=p, label=PARTY_ZH[p], members=ms) for p, ms in people.items() if ms],
    )
