"""未诉先办: recurring and seasonal problems found in the history, with the evidence in words."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from services.contracts import labels
from services.meeting import foresight
from services.meeting.foresight import Past

pytestmark = pytest.mark.unit


def past(on: str, *, category="drainage", building="12", compound="jintaihezhuang", waiting=False, mid=None) -> Past:
    d = dt.date.fromisoformat(on)
    return Past(mid or f"mat_{on}_{category}", compound, building, category, d, waiting)


def name(code, building):
    return {"jintaihezhuang": "金泰和庄"}.get(code, code) + (f"{building}号楼" if building else "")


def test_drains_every_plum_rain_season_are_proposed_for_june():
    history = [past("2024-06-12"), past("2025-05-28"), past("2025-06-20"), past("2026-01-05", building="3")]
    (f,) = foresight.detect(history, 2027, 6, name)
    assert (f.kind, f.season, f.key) == ("seasonal", "梅雨季", "jintaihezhuang/12/drainage")
    assert f.dates == (dt.date(2024, 6, 12), dt.date(2025, 5, 28), dt.date(2025, 6, 20))
    assert f.evidence_zh == (
        "金泰和庄12号楼排水问题：2024年6月12日、2025年5月28日、2025年6月20日均有反映（2年共3件），"
        "每逢梅雨季反复出现，建议在2027年6月前先行排查处置。"
    )
    # Outside the season nothing is proposed, and one past year is not a pattern.
    assert foresight.detect(history, 2027, 10, name) == []
    assert foresight.detect(history[:1], 2027, 6, name) == []


def test_water_and_heating_in_winter_and_any_category_in_its_calendar_month():
    winter = [past("2024-12-20", category="utilities"), past("2026-01-15", category="utilities")]
    (f,) = foresight.detect(winter, 2027, 1, name)
    assert (f.kind, f.season) == ("seasonal", "冬季")
    parking = [past("2025-09-01", category="parking"), past("2026-09-03", category="parking")]
    (g,) = foresight.detect(parking, 2027, 9, name)
    assert (g.kind, g.season) == ("seasonal", None) and "每年9月前后反复出现" in g.evidence_zh


def test_the_same_place_and_category_in_three_months_of_the_last_twelve_recurs():
    history = [
        past("2026-08-02", category="lighting"),
        past("2026-10-10", category="lighting"),
        past("2026-10-30", category="lighting"),
        past("2026-11-15", category="lighting"),
    ]
    (f,) = foresight.detect(history, 2026, 12, name)
    assert f.kind == "recurring" and "近12个月内有3个月反复出现（共4件" in f.evidence_zh
    # Two months only, another building, or older than twelve months: no pattern.
    assert foresight.detect(history[:3], 2026, 12, name) == []
    assert foresight.detect([*history[:2], past("2026-11-15", category="lighting", building="3")], 2026, 12, name) == []
    assert foresight.detect(history, 2028, 3, name) == []


def test_a_problem_already_waiting_for_a_session_is_not_proposed_and_the_future_is_ignored():
    history = [past("2024-06-12"), past("2025-06-20")]
    assert foresight.detect([*history, past("2026-11-01", waiting=True)], 2027, 6, name) == []
    assert foresight.detect([past("2027-06-01"), past("2028-06-01")], 2027, 6, name) == []
    assert foresight.detect([past("2024-06-12", compound=None), past("2025-06-20", compound=None)], 2027, 6) == []


# A code in the English evidence: a snake_case identifier, a lower-case category or kind code, a directory code.
CODES = re.compile(
    r"\b[a-z]+_[a-z_]+\b|\b(" + "|".join([*labels.CATEGORY, "recurring", "seasonal"]) + r")\b"
    r"|\b(jintaihezhuang|jinghuhuayuan)\b|[\u4e00-\u9fff]{2,}(季|问题)"
)


def test_the_evidence_of_a_season_in_english_words():
    history = [past("2024-06-12"), past("2025-05-28"), past("2025-06-20"), past("2026-01-05", building="3")]
    (f,) = foresight.detect(history, 2027, 6, name)
    text = foresight.evidence_en("金泰和庄 Building 12", f.category, f.kind, f.season, f.dates, 2027, 6)
    assert text == (
        "Drainage at 金泰和庄 Building 12: reported on 12 June 2024, 28 May 2025 and 20 June 2025 "
        "(3 matters in 2 years); it comes back every plum-rain season. Check and deal with it before June 2027."
    )
    assert not CODES.search(text), text
    winter = foresight.evidence_en("", "utilities", "seasonal", "冬季", [dt.date(2024, 12, 20)], 2027, 1)
    assert winter.startswith("Utilities: reported on 20 December 2024 (1 matter in 1 year)")
    assert "every winter" in winter and not CODES.search(winter)
    parking = foresight.evidence_en("金泰和庄", "parking", "seasonal", None, [dt.date(2025, 9, 1)], 2027, 9)
    assert "around September every year" in parking and not CODES.search(parking)


def test_the_evidence_of_a_recurring_problem_in_english_words():
    dates = [dt.date(2026, 8, 2), dt.date(2026, 10, 10), dt.date(2026, 10, 30), dt.date(2026, 11, 15)]
    text = foresight.evidence_en("金泰和庄 Building 12", "neighbor_dispute", "recurring", None, dates, 2026, 12)
    assert text == (
        "Neighbour disputes at 金泰和庄 Building 12: came back in 3 of the last 12 months (4 matters: "
        "2 August 2026, 10 October 2026, 30 October 2026 and 15 November 2026). "
        "Make it a topic and solve it at the root."
    )
    assert not CODES.search(text), text


def test_every_category_and_season_reads_in_words():
    for category in labels.CATEGORY:
        for kind, season in (("recurring", None), ("seasonal", None), *(("seasonal", s) for s in labels.SEASON)):
            text = foresight.evidence_en("", category, kind, season, [dt.date(2026, 6, 1)], 2027, 6)
            assert text.startswith(labels.en("category", category)) and not CODES.search(text), text


def test_a_building_in_english_words():
    assert foresight.building_en("12", "12号楼") == "Building 12"
    assert foresight.building_en("A3") == "Building A3"
    assert foresight.building_en("东区", "东区") == "东区"  # a named building keeps the directory's name
    assert foresight.building_en(None) == ""
