"""Owners' votes (Civil Code art. 278): participation and approval, area-weighted and by head, in exact fractions."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.feedback.ownervote_rules import (
    ITEMS,
    Ballot,
    area,
    decimal_text,
    fraction_text,
    item_label,
    kind_of,
    tally,
)

pytestmark = pytest.mark.unit


def ballots(*spec: tuple[str, str]) -> list[Ballot]:
    """Ballots from (area, choice) pairs, owners o0, o1, ..."""
    return [Ballot(f"o{i}", area(a), c) for i, (a, c) in enumerate(spec)]


def checks(t) -> dict[str, bool]:
    return {c.name: c.met for c in t.checks}


def test_area_is_exact():
    assert area("98.56") == Fraction(9856, 100)
    assert area("0.1") + area("0.2") == area("0.3")  # no float drift
    for bad in ("0", "-1", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            area(bad)


def test_participation_exactly_two_thirds_is_met():
    # 12 owners of 100 m² each; 8 take part = exactly 2/3 of owners and of area.
    t = tally(ballots(*[("100", "for")] * 8), kind="major", total_area=Fraction(1200), total_owners=12)
    assert checks(t)["participation_area"] and checks(t)["participation_owners"]
    part = {c.name: c for c in t.checks}
    assert part["participation_area"].value == Fraction(2, 3)
    assert part["participation_owners"].value == Fraction(2, 3)
    assert t.passed


def test_participation_a_hair_below_two_thirds_fails_on_area_only():
    # 8 of 12 owners take part, but with 799.99 of 1200 m²: just under 2/3 of the area.
    spec = [("100", "for")] * 7 + [("99.99", "for")]
    t = tally(ballots(*spec), kind="ordinary", total_area=Fraction(1200), total_owners=12)
    assert checks(t) == {
        "participation_area": False,
        "participation_owners": True,
        "approval_area": True,
        "approval_owners": True,
    }
    assert {c.name: c for c in t.checks}["participation_area"].value == Fraction(79999, 120000)
    assert not t.participation_met and not t.passed


def test_participation_by_area_but_not_by_head():
    # Two big owners hold 2/3 of the area but are only 2 of 6 owners.
    t = tally(ballots(("400", "for"), ("400", "for")), kind="ordinary", total_area=Fraction(1200), total_owners=6)
    assert checks(t)["participation_area"] and not checks(t)["participation_owners"]
    assert not t.passed


def test_major_approval_exactly_three_quarters_passes():
    # 8 participants of 100 m²: 6 for = 3/4 by head and by area.
    spec = [("100", "for")] * 6 + [("100", "against"), ("100", "abstain")]
    t = tally(ballots(*spec), kind="major", total_area=Fraction(1200), total_owners=12)
    approval = {c.name: c for c in t.checks}
    assert approval["approval_area"].value == Fraction(3, 4)
    assert approval["approval_owners"].value == Fraction(3, 4)
    assert t.passed


def test_major_approval_just_below_three_quarters_by_area_fails():
    # 6 of 8 for by head (3/4) but the 'for' owners hold 599.99 of 799.99 m² < 3/4.
    spec = [("100", "for")] * 5 + [("99.99", "for"), ("100", "against"), ("100", "against")]
    t = tally(ballots(*spec), kind="major", total_area=Fraction(1200), total_owners=12)
    approval = {c.name: c for c in t.checks}
    assert approval["approval_owners"].met
    assert approval["approval_area"].value == Fraction(59999, 79999) and not approval["approval_area"].met
    assert not t.passed


def test_abstention_participates_but_does_not_approve():
    spec = [("100", "for")] * 5 + [("100", "abstain")] * 3
    t = tally(ballots(*spec), kind="major", total_area=Fraction(1200), total_owners=12)
    assert t.participation_met
    assert {c.name: c for c in t.checks}["approval_owners"].value == Fraction(5, 8)
    assert not t.passed
    assert tally(ballots(*spec), kind="ordinary", total_area=Fraction(1200), total_owners=12).passed


def test_ordinary_needs_strictly_more_than_half():
    half = [("100", "for")] * 4 + [("100", "against")] * 4
    t = tally(ballots(*half), kind="ordinary", total_area=Fraction(1200), total_owners=12)
    assert {c.name: c.value for c in t.checks}["approval_owners"] == Fraction(1, 2)
    assert not checks(t)["approval_owners"] and not checks(t)["approval_area"] and not t.passed
    more = [("100", "for")] * 5 + [("100", "against")] * 3
    assert tally(ballots(*more), kind="ordinary", total_area=Fraction(1200), total_owners=12).passed


def test_head_count_and_area_can_disagree():
    # Elevator in 7号楼 (10 owners, 1237.5 m²): the many small flats say yes, the few large ones no.
    spec = [("98.5", "for")] * 6 + [("150.25", "against")] * 2
    t = tally(ballots(*spec), kind="major", total_area=area("1237.5"), total_owners=10)
    by = {c.name: c for c in t.checks}
    assert t.voted_area == Fraction(1783, 2)  # 591 + 300.5 = 891.5
    assert by["participation_area"].value == Fraction(1783, 2475)  # 891.5 / 1237.5 > 2/3
    assert by["approval_owners"].value == Fraction(3, 4) and by["approval_owners"].met
    assert by["approval_area"].value == Fraction(1182, 1783) and not by["approval_area"].met
    assert t.area_by_choice == {"for": Fraction(591), "against": Fraction(601, 2), "abstain": Fraction(0)}
    assert t.owners_by_choice == {"for": 6, "against": 2, "abstain": 0}
    assert not t.passed


def test_nobody_voted():
    t = tally([], kind="ordinary", total_area=Fraction(100), total_owners=3)
    assert not any(checks(t).values())
    assert {c.name: c.value for c in t.checks}["approval_area"] is None


def test_invalid_tallies_are_refused():
    with pytest.raises(ValueError):
        tally(ballots(("1", "for")), kind="weird", total_area=Fraction(1), total_owners=1)
    with pytest.raises(ValueError):
        tally([Ballot("o", area("1"), "for")] * 2, kind="major", total_area=Fraction(10), total_owners=5)
    with pytest.raises(ValueError):
        tally(ballots(("1", "for"), ("1", "for")), kind="major", total_area=Fraction(10), total_owners=1)
    with pytest.raises(ValueError):
        tally(ballots(("11", "for")), kind="major", total_area=Fraction(10), total_owners=1)
    with pytest.raises(ValueError):
        Ballot("o", area("1"), "maybe")


def test_texts():
    assert fraction_text(Fraction(2475, 2)) == "2475/2" and fraction_text(None) is None
    assert decimal_text(Fraction(2475, 2)) == "1237.50" and decimal_text(Fraction(2, 3)) == "0.67"


# Civil Code art. 278: one case per item (1)-(9). 12 owners of 100 m², 8 take part (exactly 2/3).
ITEM_RULES = {1: "ordinary", 2: "ordinary", 3: "ordinary", 4: "ordinary", 5: "ordinary"} | {
    6: "major",
    7: "major",
    8: "major",
    9: "ordinary",
}
EXACTLY_THREE_QUARTERS = [("100", "for")] * 6 + [("100", "against"), ("100", "abstain")]
EXACTLY_HALF = [("100", "for")] * 4 + [("100", "against")] * 4
JUST_OVER_HALF = [("100", "for")] * 5 + [("100", "against")] * 3  # 5/8 > 1/2, < 3/4
HALF_BY_AREA_MORE_BY_HEAD = [("50", "for")] * 5 + [("100", "against"), ("100", "against"), ("50", "against")]


def item_tally(item: int, spec, total_area: int = 1200):
    return tally(ballots(*spec), kind=kind_of(item), total_area=Fraction(total_area), total_owners=12)


@pytest.mark.parametrize("item", range(1, 10))
def test_each_item_of_article_278_has_its_own_rule(item):
    assert kind_of(item) == ITEM_RULES[item]
    major = item in (6, 7, 8)
    assert ("第（" in item_label(item)) and ITEMS[item] in item_label(item)
    # Exactly three quarters of area and heads: enough for every item (3/4 >= 3/4, and 3/4 > 1/2).
    assert item_tally(item, EXACTLY_THREE_QUARTERS).passed
    # Exactly half is never enough: "more than half" is strict, and half is below three quarters.
    t = item_tally(item, EXACTLY_HALF)
    assert {c.name: c.value for c in t.checks}["approval_owners"] == Fraction(1, 2)
    assert not t.passed and t.participation_met
    # 5/8: more than half passes items (1)-(5) and (9); items (6)-(8) need three quarters.
    assert item_tally(item, JUST_OVER_HALF).passed is not major
    # More than half by head (5/8) but exactly half by area (250/500): both counts must pass.
    t = item_tally(item, HALF_BY_AREA_MORE_BY_HEAD, total_area=700)
    assert t.participation_met and {c.name: c.met for c in t.checks}["approval_owners"] is not major
    assert {c.name: c.value for c in t.checks}["approval_area"] == Fraction(1, 2) and not t.passed


def test_using_the_maintenance_fund_is_item_five_and_needs_more_than_half():
    # 使用维修资金 (item 5) is decided by more than half; 筹集维修资金 (item 6) by three quarters.
    assert ITEMS[5].startswith("使用") and kind_of(5) == "ordinary"
    assert ITEMS[6].startswith("筹集") and kind_of(6) == "major"
    assert item_tally(5, JUST_OVER_HALF).passed and not item_tally(6, JUST_OVER_HALF).passed


@pytest.mark.parametrize("bad", [0, 10, -1])
def test_article_278_has_nine_items(bad):
    with pytest.raises(ValueError):
        kind_of(bad)
