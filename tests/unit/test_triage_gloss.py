"""Reports in English read through the glossary: the danger, its status and the place reach the rules. No I/O."""

from __future__ import annotations

import pytest

from services.triage import domain, gloss, urgent

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
    assert (g.level, g.kind) != ("red", "problem") and g.kind == "suggestion"
    assert _grade("Street lights on the north path have been broken for two weeks").level == "yellow"
