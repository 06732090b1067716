"""Reports in English read through the glossary: the danger, its status and the place reach the rules. No I/O."""

from __future__ import annotations

import pytest

from services.triage import domain, gloss, grader, urgent
from tests.unit.test_triage_urgent import not_red_prediction

pytestmark = pytest.mark.unit


def _grade(text: str) -> domain.Grade:
    return domain.grade(text, channel="miniprogram")


def test_chinese_text_is_left_alone():
    text = "楼道里全是烟 看不清 我们在5楼出不去"
    assert gloss.to_chinese(text) is text  # spaces are commas in chat: nothing may move


def test_a_few_english_words_in_chinese_are_replaced_in_place():
    assert gloss.to_chinese("3栋楼道灯坏了好几天 pls 快点修") == "3栋楼道灯坏了好几天 请 快点修"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("There is a strong smell of gas in stairwell 3, please come now", "safety_fire"),
        ("Lift stuck between floors with a kid inside!!", "elevator"),
        ("Manhole cover missing on the north road, people walk past it at night", "road"),
    ],
)
def test_english_dangers_are_red(text: str, category: str):
    g = _grade(text)
    assert (g.level, g.category, g.route) == ("red", category, "deliberate")


def test_a_denial_or_a_past_event_still_qualifies_the_danger_before_it():
    assert _grade("The fire was put out last year, no one hurt").level != "red"
    assert _grade("No gas smell any more, the engineer fixed the meter").level != "red"


def test_an_emergency_call_in_english_is_an_unmistakable_call_for_help():
    assert [s.cue for s in urgent.signals("Old man collapsed by gate 2, someone called an ambulance")]
    assert _grade("My neighbour is lying on the floor and not breathing, please help").urgent


def test_ordinary_english_requests_are_not_red():
    g = _grade("Could you add more benches in the playground? It would be nice")
    assert g.level != "red" and g.kind == "suggestion"
    assert _grade("Street lights on the north path have been broken for two weeks").level == "yellow"


def test_in_english_the_rules_red_stands_against_the_model_with_review():
    text = "Stuck in the elevator in building 4 between floors. Alarm button doesn't work."
    assert gloss.foreign(text) and not gloss.foreign("3栋楼道灯坏了好几天 pls 快点修")
    rules = domain.grade(text, channel="miniprogram")
    assert rules.level == "red"
    kept = grader.combine(rules, not_red_prediction(), kind_hint=None, category_hint=None, reporters=1, foreign=True)
    assert (kept.level, kept.route, kept.needs_review) == ("red", "deliberate", True)
    assert any("模型未学过英文" in r for r in kept.reasons)
    chinese = grader.combine(rules, not_red_prediction(), kind_hint=None, category_hint=None, reporters=1)
    assert chinese.level != "red"  # in Chinese the model may still talk an unconfirmed rules red down


def test_talk_of_ending_a_life_in_english_is_a_call_for_help():
    assert _grade("My flatmate locked himself in the bathroom and said he wants to end it").urgent


@pytest.mark.parametrize(
    ("text", "red"),
    [
        ("Smoke coming out of the electric box on floor 3", True),
        ("There is smoke in the corridor and a burning smell", True),
        ("People keep smoking in the stairwell, the smell comes into our flat", False),  # cigarettes, no fire
        ("Can we have a fire safety talk for the elderly residents?", False),  # fire as a topic, not a fire
    ],
)
def test_smoke_and_fire_in_english_mean_a_fire_only_when_they_are_one(text: str, red: bool):
    assert (_grade(text).level == "red") is red
