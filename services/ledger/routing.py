"""Pure rules: which unit takes a direct matter (一般性问题立即解决), and which directory units can take a 转办.

No I/O: the directory's community is passed in. A direct matter goes, by its category:
  1. to the community's `direct_routes` entry for the category, when the directory has one;
  2. compound upkeep (drains, lifts, lights, greening…) → the compound's property company, else the one on the
     roster (a report without a known compound is still most likely about the community's compounds);
  3. matters between residents and of particular groups (neighbour disputes, elderly care, children, noise,
     pets) → the community itself (the party organisation: mediation, home services);
  4. a partner unit (结对共建单位) on the roster that is also a department handling the category → that partner;
  5. a functional department handling the category (utilities → 供电公司, road → 城管局…);
  6. the community's party organisation — nobody is never the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.directory import Community

PROPERTY_CATEGORIES = frozenset(
    {
        "property_management",
        "elevator",
        "greening",
        "sanitation",
        "drainage",
        "parking",
        "security_access",
        "lighting",
        "public_facilities",
        "accessibility",
    }
)
COMMUNITY_CATEGORIES = frozenset({"neighbor_dispute", "elderly_care", "children", "noise", "pets", "other"})


@dataclass(frozen=True)
class Route:
    """Who takes a direct matter, and why (shown on the entry's timeline)."""

    lead_party: str
    lead_unit: str | None
    why: str


def _roster_unit(community: Community, party: str) -> str | None:
    return next((m.unit for m in community.roster.get(party, []) if m.unit), None)


def _target(community: Community, target: str, compound_company: str | None) -> Route | None:
    """A `direct_routes` target as a route (a party, a department code, or a roster unit)."""
    if target == "property_company":
        unit = compound_company or _roster_unit(community, "property_company")
        return Route("property_company", unit, "名录指定：物业服务企业")
    if target == "party_org":
        return Route("party_org", _roster_unit(community, "party_org"), "名录指定：社区")
    dept = community.department(target)
    if dept is not None:
        return Route("department", dept.name, "名录指定：职能部门")
    party = next((p for p, members in community.roster.items() if any(m.unit == target for m in members)), None)
    return Route(party, target, "名录指定") if party else None


def route_direct(community: Community, category: str, compound: str | None) -> Route:
    """The unit that takes a direct matter of `category` in `compound` (see the module's rule)."""
    found = community.compound(compound) if compound else None
    company = found.property_company if found is not None else None
    if category in community.direct_routes:
        chosen = _target(community, community.direct_routes[category], company)
        if chosen is not None:
            return chosen
    company = company or _roster_unit(community, "property_company")
    if category in PROPERTY_CATEGORIES and company:
        return Route("property_company", company, "小区公共设施维护，物业服务企业负责")
    if category in COMMUNITY_CATEGORIES:
        return Route("party_org", _roster_unit(community, "party_org"), "居民之间或特定人群的事，社区负责")
    handling = community.departments_for(category)
    names = {d.name for d in handling}
    partner = next((m.unit for m in community.roster.get("partner_unit", []) if m.unit in names), None)
    if partner:
        return Route("partner_unit", partner, "结对共建单位对口负责")
    if handling:
        return Route("department", handling[0].name, "对口职能部门负责")
    return Route("party_org", _roster_unit(community, "party_org"), "社区负责")


def handover_unit(community: Community, key: str) -> tuple[str, str] | None:
    """A unit a matter can be handed over to (转办): a department (code or name) or a partner unit → (party, name)."""
    key = key.strip()
    dept = next((d for d in community.departments if key in (d.code, d.name)), None)
    if dept is not None:
        return "department", dept.name
    if any(m.unit == key for m in community.roster.get("partner_unit", [])):
        return "partner_unit", key
    return None


def handover_units(community: Community) -> list[dict]:
    """Every unit the directory offers for 转办: departments with their categories, then partner units."""
    out = [
        {"party": "department", "code": d.code, "name": d.name, "categories": list(d.categories)}
        for d in community.departments
    ]
    names = {d.name for d in community.departments}
    for m in community.roster.get("partner_unit", []):
        if m.unit and m.unit not in names and all(o["name"] != m.unit for o in out):
            out.append({"party": "partner_unit", "code": None, "name": m.unit, "categories": []})
    return out
