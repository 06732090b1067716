"""Closed vocabularies shared on the wire (identifiers from MECHANISM.md)."""

from typing import Literal, get_args

Channel = Literal[
    "miniprogram", "wechat_group", "door_visit", "opinion_box", "wish_wall", "hotline_12345", "counter", "open311"
]
# Who uses each channel, in words (the contracts README's channel table is generated from this).
CHANNEL_USERS: dict[str, str] = {
    "miniprogram": "residents, in the 金事精办 mini-program (or the console's phone pages)",
    "wechat_group": "residents in owners' and grid WeChat/WeCom groups, through an adapter",
    "door_visit": "grid workers (网格员) and party members: reports taken on visits and patrols (敲响邻里门)",
    "opinion_box": "staff entering notes from an opinion box (意见箱)",
    "wish_wall": "staff entering notes from a wish wall (心愿墙)",
    "hotline_12345": "the county's 12345 hotline work orders",
    "counter": "staff at the community service counter (窗口), for residents who come in or call",
    "open311": "Open311 GeoReport v2 clients (county apps, other platforms)",
}
assert set(CHANNEL_USERS) == set(get_args(Channel))  # every channel is described, and only those
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
# refer_up: a compound meeting hands the matter to the community hall (大事不出社区).
Outcome = Literal["resolved", "site_inspection", "escalate", "deferred", "not_actionable", "refer_up"]
Method = Literal["home_visit", "questionnaire", "wechat_vote", "group_forum"]
Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]
GOOD_RATINGS = frozenset({"satisfied", "basically_satisfied"})  # the numerator of every satisfaction rate (满意率)
Solved = Literal["solved", "partly", "unsolved"]

# Why staff may reveal a reporter's phone to call them back (see docs/security.md "Calling a resident back").
RevealReason = Literal["callback", "verify"]
REVEAL_REASON_LABELS: dict[str, tuple[str, str]] = {
    "callback": ("回访", "Follow-up call"),
    "verify": ("核实", "Verify"),
}

Stance = Literal["support", "oppose", "conditional"]
StanceBy = Literal[
    "party_org", "owners_committee", "property_company", "resident_rep", "partner_unit", "department", "concerned"
]
CommitmentState = Literal["open", "kept", "broken"]
# States of a handling ledger entry (办理台账): the ledger's state machine (ledger/domain.py) moves between them.
LedgerState = Literal[
    "registered",
    "assigned",
    "claimed",
    "in_progress",
    "escalated",
    "completed",
    "evaluated",
    "reopened",
    "closed",
    "merged",
]
