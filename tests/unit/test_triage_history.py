"""The English twins of a matter's grading history (the `regrade` audit sentences triage writes).

Fast and pure: the sentences are built and read back as a row would be; no database is opened.
"""

from __future__ import annotations

import itertools

import pytest

from services.contracts import labels
from services.triage import history
from tests.english import CJK, assert_words, unquoted

pytestmark = pytest.mark.unit

STAFF = "其实是同一个问题"  # staff-typed reasons stay as typed, in both languages


check = assert_words


def grade(level: str, route: str, reporters: int = 1, households: int = 1) -> dict:
    return {"level": level, "route": route, "category": "sanitation", "reporters": reporters, "households": households}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (a, b)
        for a, b in itertools.product(itertools.product(("green", "yellow", "red"), ("direct", "deliberate")), repeat=2)
        if a != b
    ],
)
def test_a_headcount_regrade_reads_in_english_words_from_the_row(before, after):
    b, a = grade(*before), grade(*after, reporters=3, households=12)
    line = history.joined(3, 12, b, a)
    assert str(line).startswith("新增报事 1 条，共 3 人反映、涉及 12 户，")
    # Read back as the API does: from the stored Chinese and the row's before/after grades.
    assert history.english("auto", str(line), b, a) == line.en
    check(line.en)
    assert line.en.startswith("1 new report (3 people reported it, 12 households affected): ")
    if before[0] != after[0]:
        want = f"Level raised from {labels.en('level', before[0])} to {labels.en('level', after[0])}"
        assert want in line.en
    if before[1] != after[1]:
        want = f"Route changed from {labels.en('route', before[1])} to {labels.en('route', after[1])}"
        assert want in line.en


def test_the_wording_of_the_chinese_is_unchanged_for_rows_already_stored():
    b, a = grade("green", "direct"), grade("yellow", "deliberate", 3, 3)
    assert (
        str(history.joined(3, 3, b, a))
        == "新增报事 1 条，共 3 人反映、涉及 3 户，等级由绿升为黄，由直接办理转为上会议事"
    )
    assert history.joined(3, 3, b, a).en == (
        "1 new report (3 people reported it, 3 households affected): Level raised from Green to Yellow; "
        "Route changed from Fix at once to Deliberate"
    )
    assert str(history.merged_into("楼道垃圾", STAFF)) == f"合并到「楼道垃圾」：{STAFF}"
    assert str(history.took_in("楼道垃圾", STAFF)) == f"并入「楼道垃圾」：{STAFF}"
    assert str(history.split_out(2, STAFF)) == f"拆出 2 条报事另立事项：{STAFF}"
    assert str(history.split_from(STAFF)) == f"自原事项拆出：{STAFF}"
    assert str(history.confirmed(None)) == "确认原分级"
    assert str(history.confirmed("看过现场")) == "确认原分级：看过现场"


def test_a_headcount_row_without_counts_in_its_grades_reads_the_counts_from_its_chinese():
    reason = "新增报事 1 条，共 4 人反映、涉及 9 户，等级由绿升为黄"
    en = history.english("auto", reason, {"level": "green", "route": "direct"}, {"level": "yellow", "route": "direct"})
    assert en == "1 new report (4 people reported it, 9 households affected): Level raised from Green to Yellow"


TITLES = ["3号楼楼道里有垃圾没人清，已经好几天了，味道很大" * 2, "路灯不亮", "“小区”门口：积水"]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("typed", [STAFF, "两条说的是同一处：东门", "same leak"])
def test_merge_split_and_confirm_rows_read_in_english_with_titles_and_staff_words_as_written(title, typed):
    cases = [
        ("merge", history.merged_into(title, typed), f"Merged into “{title[:40]}”: {typed}"),
        ("merge", history.took_in(title, typed), f"Took in the reports of “{title[:40]}”: {typed}"),
        ("split", history.split_out(1, typed), f"1 report moved to a new matter: {typed}"),
        ("split", history.split_out(3, typed), f"3 reports moved to a new matter: {typed}"),
        ("split", history.split_from(typed), f"Split off from another matter: {typed}"),
        ("confirm", history.confirmed(typed), f"Grade confirmed as it was: {typed}"),
        ("confirm", history.confirmed(None), "Grade confirmed as it was"),
    ]
    for action, line, want in cases:
        assert line.en == want
        assert history.english(action, str(line), {}, {}) == want, (action, str(line))
        check(line.en, title[:40], typed)


def test_a_staff_regrade_reason_reads_as_typed_and_unknown_sentences_are_left_alone():
    assert history.english("regrade", "只是增设座椅的建议", {}, {}) == "只是增设座椅的建议"
    assert history.english(None, "老数据", {}, {}) == "老数据"
    # A sentence under another action is not taken for one of triage's (a staff reason that looks like one).
    assert history.english("regrade", "确认原分级：看过", {}, {}) == "确认原分级：看过"
    assert history.english("merge", "别的说法", {}, {}) == "别的说法"


def test_a_stored_reason_cut_at_500_characters_still_reads_in_english():
    typed = "很" * 600
    cut = str(history.took_in("路灯不亮", typed))[:500]
    en = history.english("merge", cut, {}, {})
    assert en.startswith("Took in the reports of “路灯不亮”: 很") and not CJK.search(unquoted(en).replace("很", ""))
