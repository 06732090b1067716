"""小事不出小区、大事不出社区: the rule choosing the community hall or a compound's own meeting."""

from __future__ import annotations

import pytest

from services.meeting import tiers
from services.runtime.directory import load_directory

pytestmark = pytest.mark.unit


@pytest.fixture
def jinshan():
    return load_directory().community("jinshan")


def choose(community, **over):
    args = {"level": "yellow", "compound": "jinghuhuayuan", "category": "parking", "households": 12} | over
    return tiers.choose_tier(community, **args)


def test_a_small_matter_of_a_compound_with_its_own_meeting_stays_in_the_compound(jinshan):
    choice = choose(jinshan)
    assert (choice.tier, choice.hall) == ("compound", "jinghuhuayuan")
    assert "小事不出小区" in choice.reason_zh


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"level": "red"}, "红色"),
        ({"compound": None}, "未确定所在小区"),
        ({"compound": "xiugumingyuan"}, "未设小区议事会"),  # no 议事 group of its own
        ({"category": "road"}, "职能部门"),  # paid from public budgets, a department's work
        ({"category": "elderly_care"}, "职能部门"),
        ({"households": 51}, "超过小区议事会的50户"),  # many households: 大事
    ],
)
def test_everything_else_goes_to_the_community_hall(jinshan, over, why):
    choice = choose(jinshan, **over)
    assert (choice.tier, choice.hall) == ("community", "community")
    assert why in choice.reason_zh


def test_staff_override_wins_but_a_compound_needs_its_own_meeting(jinshan):
    assert choose(jinshan, override="community").hall == "community"  # also a compound meeting's referral
    assert choose(jinshan, category="road", override="compound").hall == "jinghuhuayuan"
    # Without a meeting of its own, or for a red matter, there is nowhere in the compound to send it.
    assert choose(jinshan, compound="xiugumingyuan", override="compound").hall == "community"
    assert choose(jinshan, level="red", override="compound").hall == "community"


def test_the_compound_categories_are_known_categories():
    from services.runtime.directory import CATEGORIES

    assert set(tiers.COMPOUND_CATEGORIES) <= set(CATEGORIES)
    assert "road" not in tiers.COMPOUND_CATEGORIES and "safety_fire" not in tiers.COMPOUND_CATEGORIES


def test_compound_meeting_invitees_are_reached_at_their_directory_addresses(jinshan):
    from services.meeting import notices, planner

    people = planner.compound_invitees(jinshan, "jinghuhuayuan")
    assert [(i.party, i.name) for i in people] == [
        ("party_org", "徐志强"),
        ("owners_committee", "陆国平"),
        ("property_company", "周海涛"),
        ("resident_rep", "陆有福"),
    ]
    # A grid member who is not on the hall's roster still has the phone the grid lists.
    assert notices.recipient(jinshan, "party_org:程小军").phone == "13800001051"
    assert planner.hall_name(jinshan, "jinghuhuayuan") == "景湖花园小区议事会"
    assert str(planner.rule_of(jinshan, "jinghuhuayuan")) == "每月第一个星期三 19:30"
    assert str(planner.rule_of(jinshan, "xiugumingyuan")) == str(planner.rule_of(jinshan))  # no meeting: the hall's
