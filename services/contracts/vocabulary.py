"""Closed vocabularies shared on the wire (identifiers from MECHANISM.md)."""

from typing import Literal

Channel = Literal[
    "miniprogram", "wechat_group", "door_visit", "opinion_box", "wish_wall", "hotline_12345", "counter", "open311"
]
Kind = Literal["problem", "suggestion"]
Level = Literal["red", "yellow", "green"]
Route = Literal["direct", "deliberate"]
Party = Literal["party_org", "owners_committee", "property_company", "resident_rep", "partner_unit"]
ResponsibleParty = Literal[
    "party_org", "owners_committee", "property_company", "resident_rep", "partner_unit", "department"
]
Category = Literal[
    "parking",
    "road",
    "lighting",
    "drainage",
    "elevator",
    "greening",
    "sanitation",
    "safety_fire",
    "utilities",
    "property_management",
    "noise",
    "pets",
    "construction",
    "neighbor_dispute",
    "elderly_care",
    "children",
    "accessibility",
    "security_access",
    "public_facilities",
    "other",
]
SessionKind = Literal["emergency", "fixed_day", "site_inspection"]
Outcome = Literal["resolved", "site_inspection", "escalate", "deferred", "not_actionable"]
Method = Literal["home_visit", "questionnaire", "wechat_vote", "group_forum"]
Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]
Solved = Literal["solved", "partly", "unsolved"]
Stance = Literal["support", "oppose", "conditional"]
StanceBy = Literal[
    "party_org", "owners_committee", "property_company", "resident_rep", "partner_unit", "department", "concerned"
]
CommitmentState = Literal["open", "kept", "broken"]
