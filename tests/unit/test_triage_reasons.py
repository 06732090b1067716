"""The English twins of triage's reasons: every line has one, in words (no codes), matching its Chinese.

Fast: the rules grade the labelled corpus (no model is fitted, no database is opened).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

from services.contracts import labels
from services.runtime.auth import Principal
from services.triage import domain, grader, hazards
from services.triage.model import Prediction
from services.triage.reasons import Reason, columns, paired
from tests.english import CJK, QUOTE, SNAKE, assert_words

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2] / "services" / "triage" / "corpus"
HEDGE_EXAMPLES = {"“a little”", "“it seems”", "“I'm afraid”"}  # the Chinese examples 一点、好像、怕 in English


def check_line(zh: str, en: str) -> None:
    """An English twin is present, in words, and names what its Chinese names."""
    assert en, f"no English for {zh!r}"
    assert_words(en)
    for quote in QUOTE.findall(en):  # quoted words are the resident's own, as the Chinese line has them
        assert quote[1:-1] in zh or quote in HEDGE_EXAMPLES, f"quotes differ: {zh!r} / {en!r}"
    for group, head, head_en in (("category", "类别：", "Category: "), ("level", "等级：", "Level: ")):
        for zh_word, en_word in labels.GROUPS[group].values():
            if zh.startswith(f"{head}{zh_word}（"):
                assert en.startswith(f"{head_en}{en_word} ("), (zh, en)
    for h in hazards.HAZARDS:
        if zh.startswith("危险：") and f"{h.label}（" in zh:
            assert hazards.label_en(h.id) in en, (zh, en)


def _corpus() -> list[dict]:
    rows = []
    for name in ("train.jsonl", "heldout.jsonl"):
        rows += [json.loads(line) for line in (CORPUS / name).read_text(encoding="utf-8").splitlines() if line]
    return rows


def test_every_hazard_and_status_has_english_words():
    assert set(hazards.LABELS_EN) == {h.id for h in hazards.HAZARDS}
    assert set(hazards.STATUS_EN) == set(hazards.STATUS_LABELS)
    for word in [*hazards.LABELS_EN.values(), *hazards.STATUS_EN.values()]:
        assert word and not CJK.search(word) and not SNAKE.search(word), word
    assert len(set(hazards.LABELS_EN.values())) == len(hazards.LABELS_EN)  # no two hazards read the same


def test_every_reason_of_the_corpus_has_a_worded_english_twin():
    """Every line the rules write for 1,500 labelled texts, with hints, channels and headcounts varied."""
    templates: set[str] = set()
    for i, row in enumerate(_corpus()):
        variants = [
            dict(channel=row.get("channel", "miniprogram")),
            dict(channel="wish_wall", reporters=3 + i % 3, households=12),
            dict(channel="miniprogram", kind_hint=("problem", "suggestion")[i % 2], category_hint="no_such_code"),
            dict(channel="miniprogram", category_hint=row.get("category")),
        ]
        for kw in variants:
            g = domain.grade(row["text"], **kw)
            assert len(g.reasons_en) == len(g.reasons)
            for zh, en in zip(g.reasons, g.reasons_en, strict=True):
                check_line(zh, en)
                templates.add(re.split(r"[：“（ 0-9]", zh, maxsplit=1)[0])
    # The corpus reaches the rules' templates: category, hazard, levels, route, kind, review, exposure, outage...
    assert len(templates) >= 20, sorted(templates)


def test_the_unknown_category_hint_is_not_echoed_in_english():
    g = domain.grade("楼道灯坏了", channel="miniprogram", category_hint="not_a_category")
    [line] = [r for r in g.reasons if r.startswith("上报类别")]
    assert "not_a_category" in line  # the Chinese names what was sent, the English only says it was unknown
    assert "not_a_category" not in line.en and "unknown" in line.en


def _prediction(p_red: float, *, level: str = "yellow", threshold: float = 0.2) -> Prediction:
    other = "green" if level == "yellow" else "yellow"
    probs = {
        "level": {"red": p_red, level: 0.7 * (1 - p_red), other: 0.3 * (1 - p_red)},
        "route": {"direct": 0.1, "deliberate": 0.9},
        "kind": {"problem": 0.1, "suggestion": 0.9},
        "category": {"public_facilities": 0.1, "greening": 0.9},
    }
    return Prediction(probs, ("长椅",), text_red=p_red, text_probs=probs, red_threshold=threshold)


@pytest.mark.parametrize("p_red", [0.02, 0.15, 0.3, 0.9])
@pytest.mark.parametrize("text", ["小区里的长椅坏了", "8栋电梯困人了", "建议多种点树"])
def test_model_notes_have_worded_english_twins(text, p_red):
    rules = domain.grade(text, channel="miniprogram")
    for policy in (grader.Policy(), grader.Policy(level_trust=0.0, route_trust=0.0, category_trust=0.0)):
        g = grader.combine(rules, _prediction(p_red), kind_hint=None, category_hint=None, reporters=1, policy=policy)
        assert len(g.reasons_en) == len(g.reasons)
        for zh, en in zip(g.reasons, g.reasons_en, strict=True):
            check_line(zh, en)
    only = grader.model_only(text, _prediction(p_red))
    for zh, en in zip(only.reasons, only.reasons_en, strict=True):
        check_line(zh, en)


def test_model_changes_name_the_new_value_in_english_words():
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    g = grader.combine(rules, _prediction(0.02), kind_hint=None, category_hint=None, reporters=1)
    en = " | ".join(g.reasons_en)
    assert "Category: changed to Greenery by the model" in en
    assert "Kind: changed to Suggestion by the model" in en
    assert "Route: changed to Deliberate by the model" in en


def test_a_reason_keeps_its_twin_through_lists_cuts_and_pickles():
    a, b = Reason("等级：红（急难险重）", "Level: Red"), Reason("合并报事 2 条", "2 reports joined")
    kept = [r for r in [a, b] if not r.startswith("合并报事")][:48]
    assert kept == ["等级：红（急难险重）"] and kept[0].en == "Level: Red"
    assert a.cut(3) == "等级：" and a.cut(3).en == "Lev"
    assert a.then("（已取代）", " (superseded)").en == "Level: Red (superseded)"
    copy = pickle.loads(pickle.dumps(a))
    assert (copy, copy.en) == (a, a.en)
    assert columns([a, b]) == (["等级：红（急难险重）", "合并报事 2 条"], ["Level: Red", "2 reports joined"])


def test_stored_rows_without_english_read_back_with_empty_twins():
    assert [r.en for r in paired(["甲", "乙"], ["A", "B"])] == ["A", "B"]
    assert [r.en for r in paired(["甲", "乙"], [])] == ["", ""]  # graded before the twins: shown in Chinese
    assert [r.en for r in paired(["甲", "乙"], ["A"])] == ["", ""]  # out of step: no twin is better than a wrong one


def test_a_person_is_named_by_name_and_role_in_english_words():
    p = Principal(sub="u-123", role="party_org", communities=frozenset({"jinshan"}), name="王书记")
    assert p.words() == "王书记（社区党组织）"
    assert p.words_en() == "王书记 (Party organisation)"
    nameless = Principal(sub="u-9", role="grid_worker", communities=frozenset({"jinshan"}))
    assert nameless.words_en() == "Grid worker" and "u-9" not in nameless.words_en()


@pytest.mark.parametrize(
    ("text", "words"),
    [("停水三天了", "about 3 days"), ("停电两个星期了", "about 2 weeks"), ("漏水半年了", "about 6 months")],
)
def test_a_stated_duration_reads_in_english_words(text, words):
    [line] = [r for r in domain.grade(text, channel="miniprogram").reasons if r.startswith("持续时间")]
    assert words in line.en
