"""The red policy: a threshold set for recall by grouped CV, the review band, rules red that the model does not
confirm, and the extra (never trained on) writer in crossval. Fast: no model is fitted, no file is read."""

from __future__ import annotations

import numpy as np
import pytest

from services.triage import crossval, domain, grader
from services.triage.model import DEFAULT_RED_THRESHOLD, Prediction, threshold_for_recall

pytestmark = pytest.mark.unit

ARGS = dict(kind_hint=None, category_hint=None, reporters=1)


def _prediction(p_red: float, *, threshold: float | None = 0.2, level: str = "yellow") -> Prediction:
    other = "green" if level == "yellow" else "yellow"
    probs = {
        "level": {"red": p_red, level: 0.7 * (1 - p_red), other: 0.3 * (1 - p_red)},
        "route": {"direct": 0.8, "deliberate": 0.2},
        "kind": {"problem": 0.9, "suggestion": 0.1},
        "category": {"public_facilities": 0.9, "other": 0.1},
    }
    return Prediction(probs, ("长椅",), text_red=p_red, text_probs=probs, red_threshold=threshold)


def test_threshold_for_recall_keeps_the_target_share_of_reds():
    scores = np.array([0.9, 0.8, 0.3, 0.25, 0.05, 0.6, 0.1, 0.02])
    is_red = np.array([1, 1, 1, 1, 1, 0, 0, 0], dtype=bool)
    assert threshold_for_recall(scores, is_red, 1.0) == 0.05  # every red at or above
    assert threshold_for_recall(scores, is_red, 0.8) == 0.25  # one red of five may fall below
    t = threshold_for_recall(scores, is_red, 0.975)
    assert (scores[is_red] >= t).mean() >= 0.975
    assert threshold_for_recall(scores, np.zeros(8, dtype=bool), 0.97) == DEFAULT_RED_THRESHOLD


def test_model_threshold_is_used_unless_the_policy_sets_one():
    p = _prediction(0.3, threshold=0.25)
    assert grader.red_threshold(p, grader.Policy()) == 0.25
    assert grader.red_threshold(p, grader.Policy(red_threshold=0.4)) == 0.4
    assert grader.red_threshold(_prediction(0.3, threshold=None), grader.Policy()) == DEFAULT_RED_THRESHOLD
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    assert grader.combine(rules, p, **ARGS).level == "red"
    assert grader.combine(rules, p, **ARGS, policy=grader.Policy(red_threshold=0.4)).level != "red"


def test_uncertain_red_is_red_with_review_and_sure_red_is_not_flagged_by_the_model():
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    unsure = grader.combine(rules, _prediction(0.3), **ARGS)
    assert (unsure.level, unsure.route, unsure.needs_review) == ("red", "deliberate", True)
    assert any("按红色处理并请人工复核" in r for r in unsure.reasons)
    sure = grader.combine(rules, _prediction(0.9), **ARGS)
    assert (sure.level, sure.route) == ("red", "deliberate")
    assert not any("请人工复核" in r and "模型" in r for r in sure.reasons)
    assert "规则：红色一律上会议事" in sure.reasons


def test_just_below_the_threshold_keeps_the_level_but_asks_for_review():
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    near = grader.combine(rules, _prediction(0.15), **ARGS)  # 0.15 >= 0.5 × 0.2
    assert near.level != "red" and near.needs_review
    assert any("接近阈值" in r for r in near.reasons)
    far = grader.combine(rules, _prediction(0.01), **ARGS)
    assert far.level != "red" and not any("接近阈值" in r for r in far.reasons)


def test_rules_red_the_model_does_not_confirm_is_flagged_not_forced():
    rules = domain.grade("楼道里冒烟了", channel="wechat_group")
    assert rules.level == "red"
    g = grader.combine(rules, _prediction(0.02, level="yellow"), **ARGS)
    assert g.level == "yellow" and g.needs_review and g.route == "direct"
    assert not any(r.startswith(("等级：红", "规则：红色一律上会议事")) for r in g.reasons)  # no contradiction
    assert any("模型判断不属当前急险" in r for r in g.reasons)
    assert any(r.startswith("危险：") for r in g.reasons)  # the hazard the rules saw stays visible to staff
    confirmed = grader.combine(rules, _prediction(0.8), **ARGS)
    assert confirmed.level == "red" and confirmed.route == "deliberate"


def test_model_level_decides_below_red():
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    assert grader.combine(rules, _prediction(0.01, level="green"), **ARGS).level == "green"
    assert grader.combine(rules, _prediction(0.01, level="yellow"), **ARGS).level == "yellow"


def test_extra_writer_is_graded_but_never_trained_on():
    def row(i: int, writer: str, level: str) -> dict:
        cat = "road" if level != "green" else "elderly_care"
        route = "deliberate" if level == "red" else "direct"
        return {"id": f"{writer}-{i}", "writer": writer, "text": f"第{i}条 {writer}", "level": level,
                "route": route, "kind": "problem", "category": cat}  # fmt: skip

    rows = [row(i, w, lv) for w in ("a", "b") for i, lv in enumerate(("red", "yellow", "green"))]
    extra = [row(i, "new", lv) for i, lv in enumerate(("red", "green"))]
    seen: list[set[str]] = []

    def fit(train_rows: list[dict]) -> None:
        seen.append({r["writer"] for r in train_rows})

    out = crossval.crossval(rows, modes=("rules",), fit=fit, extra=extra, random=False)
    assert all("new" not in s for s in seen) and {"a", "b"} in seen
    assert out["extra_writers"]["new"]["rows"] == 2 and out["extra_writers"]["new"]["rules"]["n"] == 2
    assert out["pooled_unseen_writers"]["rules"]["n"] == len(rows)
