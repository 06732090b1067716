"""小事不出小区、大事不出社区: the rule choosing the community hall or a compound's own meeting."""

from __future__ import annotations

import re

import pytest

from services.contracts import labels
from services.meeting import tiers
from services.runtime.directory import load_directory

pytestmark = pytest.mark.unit

# A code in a sentence: a snake_case identifier, a category code (lower case), a directory code.
CODES = re.compile(
    r"\b[a-z]+_[a-z_]+\b|\b(" + "|".join(labels.CATEGORY) + r")\b"
    r"|\b(jinshan|jinghuhuayuan|xiugumingyuan)\b"
)


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


@pytest.mark.parametrize(
    ("over", "english"),
    [
        ({}, "A matter within 景湖花园: small matters stay in the compound"),
        ({"level": "red"}, "Red matters are convened by the community at once"),
        ({"compound": None}, "The matter's compound is not known"),
        ({"compound": "xiugumingyuan"}, "秀谷名苑 has no compound meeting of its own"),
        ({"category": "road"}, "Roads: matters of this kind need the community or a department"),
        ({"category": "elderly_care"}, "Elderly care: matters of this kind need the community or a department"),
        ({"category": "safety_fire"}, "Fire and safety: matters of this kind need the community or a department"),
        ({"households": 51}, "51 households are concerned, more than the compound meeting's 50"),
        ({"override": "community"}, "Set by staff, or referred up by the compound meeting, to the community hall"),
        ({"category": "road", "override": "compound"}, "Set by staff to the compound meeting"),
    ],
)
def test_every_reason_has_an_english_twin_in_words(jinshan, over, english):
    choice = choose(jinshan, **over)
    assert choice.reason_en == english
    assert not CODES.search(choice.reason_en), choice.reason_en
    # The Chinese names the category too, in words (no code either).
    assert not CODES.search(choice.reason_zh), choice.reason_zh


def test_every_category_a_compound_cannot_take_reads_in_words(jinshan):
    for category in labels.CATEGORY:
        choice = choose(jinshan, category=category)
        assert not CODES.search(choice.reason_en), choice.reason_en
        if choice.tier == "community":
            assert choice.reason_en.startswith(labels.en("category", category))
            assert choice.reason_zh.startswith(labels.zh("category", category))


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
    assert planner.hall_name_en(jinshan, "jinghuhuayuan") == "景湖花园 compound meeting"
    assert planner.hall_name_en(jinshan, "community") == "金山社区 five-party hall"
    assert str(planner.rule_of(jinshan, "jinghuhuayuan")) == "每月第一个星期三 19:30"
    assert str(planner.rule_of(jinshan, "xiugumingyuan")) == str(planner.rule_of(jinshan))  # no meeting: the hall's
