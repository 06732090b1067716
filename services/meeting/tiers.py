"""Which hall deliberates a matter: 小事不出小区、大事不出社区 (pure rules, no I/O).

Two tiers: the community's Five-Party Deliberation Hall (`community`) and a compound's own meeting
(小区议事会, `compound`), which exists only for compounds the directory gives a `hall`. A matter goes to its
compound's meeting when it is a small matter of that compound alone; otherwise it stays with the community.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.contracts import labels
from services.runtime.directory import Community

COMMUNITY = "community"
COMPOUND = "compound"
TIERS = (COMMUNITY, COMPOUND)
TIER_ZH = {COMMUNITY: "社区议事厅", COMPOUND: "小区议事会"}

# Matters the compound's owners, property company and residents can settle themselves, paid from the property
# fee or the owners' own funds (维修资金: the owners decide, art. 278): upkeep of shared parts and neighbourly
# matters. Everything else needs the community or a department (roads, utilities, fire safety, construction
# defects, elderly care, children, accessibility) or is paid from public budgets, and goes to the community hall.
COMPOUND_CATEGORIES: tuple[str, ...] = (
    "parking",
    "lighting",
    "drainage",
    "elevator",
    "greening",
    "sanitation",
    "property_management",
    "noise",
    "pets",
    "neighbor_dispute",
    "security_access",
    "public_facilities",
)


@dataclass(frozen=True)
class TierChoice:
    """Where a matter is deliberated and why (the reason is shown to staff, in Chinese and in English words)."""

    tier: str
    hall: str  # "community", or the compound's code
    reason_zh: str
    reason_en: str


def _community(reason_zh: str, reason_en: str) -> TierChoice:
    return TierChoice(COMMUNITY, COMMUNITY, reason_zh, reason_en)


def choose_tier(
    community: Community,
    *,
    level: str,
    compound: str | None,
    category: str,
    households: int,
    override: str | None = None,
) -> TierChoice:
    """The hall of a deliberate matter: the first rule that applies wins (docs/meeting.md, the tier table)."""
    found = community.compound(compound) if compound else None
    hall = found.hall if found is not None else None
    if override == COMMUNITY:
        return _community(
            "工作人员指定（或小区议事会提交）到社区议事厅",
            "Set by staff, or referred up by the compound meeting, to the community hall",
        )
    if level == "red":
        return _community("红色事项由社区立即召集议事", "Red matters are convened by the community at once")
    if found is None:
        return _community("未确定所在小区", "The matter's compound is not known")
    if hall is None:
        return _community(f"{found.name}未设小区议事会", f"{found.name} has no compound meeting of its own")
    if override == COMPOUND:
        return TierChoice(COMPOUND, found.code, "工作人员指定到小区议事会", "Set by staff to the compound meeting")
    allowed = hall.categories if hall.categories is not None else COMPOUND_CATEGORIES
    if category not in allowed:
        return _community(
            f"{labels.zh('category', category, '该')}类事项需社区或职能部门协调",
            f"{labels.en('category', category, 'Other')}: matters of this kind need the community or a department",
        )
    if households > hall.max_households:
        return _community(
            f"涉及{households}户，超过小区议事会的{hall.max_households}户",
            f"{households} households are concerned, more than the compound meeting's {hall.max_households}",
        )
    return TierChoice(
        COMPOUND,
        found.code,
        f"{found.name}内部事项，小事不出小区",
        f"A matter within {found.name}: small matters stay in the compound",
    )
