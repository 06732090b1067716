"""Triage corpus, statistical model, rules+model combination, model loading/fallback and `evaluate` output."""

from __future__ import annotations

import collections
import json
import logging
import re

import numpy as np
import pytest

from services.triage import cli, domain, grader, grader_scores, labelled
from services.triage.model import load, train
from services.triage.rules import CATEGORIES

pytestmark = pytest.mark.unit
# Trains models: 20-35 s of CPU on a quiet machine, many times that while the other tiers run beside (make test).
TRAINS = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def corpus() -> tuple[list[dict], list[dict]]:
    return list(labelled.read_jsonl(labelled.TRAIN)), list(labelled.read_jsonl(labelled.HELDOUT))


@pytest.fixture(scope="module")
def small_model(corpus):
    """A model on every sixth training row: enough to exercise the code, quick to fit."""
    train_rows, _ = corpus
    return train(train_rows[::6])


@pytest.fixture(autouse=True)
def _no_active_model():
    grader.set_model(None)
    yield
    grader.set_model(None)


def test_corpus_size_labels_and_coverage(corpus):
    train_rows, heldout = corpus
    rows = train_rows + heldout
    assert len(rows) >= 650
    for r in rows:
        assert r["text"].strip() and r["category"] in CATEGORIES
        assert r["level"] in labelled.LEVELS and r["route"] in labelled.ROUTES and r["kind"] in labelled.KINDS
        assert r["level"] != "red" or r["route"] == "deliberate"
    assert {r["category"] for r in rows} == set(CATEGORIES)
    assert {r["channel"] for r in rows} >= {"wechat_group", "miniprogram", "door_visit", "opinion_box", "hotline_12345"}
    assert {r["kind"] for r in rows} == set(labelled.KINDS) and {r["route"] for r in rows} == set(labelled.ROUTES)
    # Channel styles show up, not one template.
    texts = [r["text"] for r in rows]
    assert any(t.startswith("走访记录：") for t in texts) and any(t.startswith("工单编号") for t in texts)
    assert any("@物业" in t for t in texts) and any("[图片]" in t for t in texts)


def test_corpus_wording_varies(corpus):
    """Hundreds of distinct core sentences, and no single template dominates."""
    seeds = labelled.read_seeds()
    assert len({s.text for s in seeds}) >= 300
    opening = collections.Counter(s.text[:4] for s in seeds)
    assert opening.most_common(1)[0][1] < len(seeds) * 0.05


def test_split_is_deterministic_disjoint_and_stratified(corpus):
    train_rows, heldout = corpus
    rebuilt_train, rebuilt_heldout = labelled.build(labelled.read_seeds())
    assert rebuilt_train == train_rows and rebuilt_heldout == heldout  # the shipped files match a rebuild
    seed_of = lambda r: r["id"].split("-")[0]  # noqa: E731
    assert not {seed_of(r) for r in train_rows} & {seed_of(r) for r in heldout}
    for level in labelled.LEVELS:
        share = sum(r["level"] == level for r in heldout) / sum(r["level"] == level for r in train_rows + heldout)
        assert 0.15 <= share <= 0.25


def test_hard_cases_are_in_the_corpus(corpus):
    rows = corpus[0] + corpus[1]
    by_text = {labelled_core: r for r in rows for labelled_core in [r["text"]]}
    assert any("一点煤气味" in t and r["level"] == "red" for t, r in by_text.items())
    assert any("吓死人了，路灯又坏了" in t and r["level"] == "yellow" for t, r in by_text.items())
    assert any("没有发现燃气泄漏" in t and r["level"] != "red" for t, r in by_text.items())


def test_model_predicts_probabilities_and_ngrams(small_model):
    text = "楼道里一股燃气味，好像漏气了"
    p = small_model.predict(text, domain.grade(text, channel="wechat_group"))
    for head in ("level", "route", "kind", "category"):
        assert abs(sum(p.probs[head].values()) - 1) < 1e-6
    assert 0.0 <= p.text_red <= 1.0
    assert p.level_ngrams and all(len(g) >= 2 for g in p.level_ngrams)


def test_combined_grade_of_a_calm_gas_smell_is_red_and_explained_in_chinese(small_model):
    g = grader.grade("家里闻到一点煤气味，不知道要不要紧", channel="wechat_group", model=small_model)
    assert g.level == "red" and g.route == "deliberate" and g.needs_review
    assert any(r.startswith("危险词") for r in g.reasons)
    [basis] = [r for r in g.reasons if r.startswith("模型依据：")]
    assert re.fullmatch(r"模型依据：(“[^”]+”)+", basis)


def test_model_red_probability_forces_red_with_review():
    rules = domain.grade("小区里的长椅坏了", channel="miniprogram")
    assert rules.level != "red"
    probs = {
        "level": {"red": 0.1, "yellow": 0.6, "green": 0.3},
        "route": {"direct": 0.9, "deliberate": 0.1},
        "kind": {"problem": 0.9, "suggestion": 0.1},
        "category": {"public_facilities": 1.0},
    }
    low = grader.Prediction(probs, ("长椅",), text_red=0.02)  # far below the default threshold (0.1)
    high = grader.Prediction(probs, ("长椅",), text_red=0.3)  # above it, below the sure-red band (0.5)
    args = dict(kind_hint=None, category_hint=None, reporters=1)
    assert grader.combine(rules, low, **args).level == rules.level
    g = grader.combine(rules, high, **args)
    assert (g.level, g.route, g.needs_review) == ("red", "deliberate", True)
    assert any("模型判断可能为红色" in r for r in g.reasons)


def test_model_file_round_trip_and_fallback(tmp_path, small_model, caplog):
    with caplog.at_level(logging.WARNING, logger="triage.grader"):
        assert grader.load_active(tmp_path) is None
    assert "rules-only" in caplog.text
    text = "3号楼楼道灯坏了"
    assert grader.grade(text, channel="wechat_group") == domain.grade(text, channel="wechat_group")
    small_model.save(tmp_path / grader.MODEL_FILE)
    loaded = grader.load_active(tmp_path)
    assert loaded is not None and grader.active_model() is loaded
    g = grader.grade(text, channel="wechat_group")
    assert any(r.startswith("模型依据") for r in g.reasons)
    assert load(tmp_path / "missing.pkl") is None


def test_stale_model_file_is_ignored(tmp_path):
    import pickle

    (tmp_path / grader.MODEL_FILE).write_bytes(pickle.dumps({"format": -1, "model": None}))
    assert grader.load_active(tmp_path) is None and grader.active_model() is None


def test_evaluate_output_shape(tmp_path, small_model, corpus, capsys):
    path = tmp_path / grader.MODEL_FILE
    small_model.save(path)
    sample = tmp_path / "sample.jsonl"
    labelled.write_jsonl(sample, corpus[1][:40])
    cli.cmd_evaluate([str(sample), "--model", str(path), "--compare"])
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "combined" and out["n"] == 40
    for head in ("level", "route", "kind", "category"):
        assert set(out[head]) == {"accuracy", "macro_f1"} and 0 <= out[head]["macro_f1"] <= 1
    conf = out["level_confusion"]
    assert conf["labels"] == ["red", "yellow", "green"] and len(conf["matrix"]) == 3
    assert sum(map(sum, conf["matrix"])) == 40
    assert 0 <= out["red_recall"] <= 1
    assert set(out["alternatives"]) == set(grader_scores.MODES)


def test_scores_are_computed_not_assumed():
    rows = [
        {"text": "a", "level": "red", "route": "deliberate", "kind": "problem", "category": "road"},
        {"text": "b", "level": "red", "route": "deliberate", "kind": "problem", "category": "road"},
        {"text": "c", "level": "green", "route": "direct", "kind": "problem", "category": "road"},
    ]
    grades = [
        domain.Grade("red", "deliberate", "problem", "road", (), 1.0, False),
        domain.Grade("yellow", "direct", "problem", "road", (), 1.0, False),
        domain.Grade("green", "direct", "problem", "road", (), 1.0, False),
    ]
    out = grader_scores.score(rows, grades)
    assert out["red_recall"] == 0.5
    assert out["level_confusion"]["matrix"] == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert out["level"]["accuracy"] == round(2 / 3, 4)


def test_regrade_label_skips_automatic_and_empty():
    from services.triage.models import Regrade

    after = {"level": "red", "route": "deliberate", "kind": "problem", "category": "drainage", "households": 4}
    staff = Regrade(matter_id="m1", community="c", by="u1", reason="r", text="地下室进水了", after=after, at=None)
    auto = Regrade(matter_id="m1", community="c", by="triage", reason="r", text="地下室进水了", after=after, at=None)
    empty = Regrade(matter_id="m1", community="c", by="u1", reason="r", text=" ", after=after, at=None)
    row = cli.regrade_label(staff)
    assert row["level"] == "red" and row["category"] == "drainage" and row["households_affected"] == 4
    assert cli.regrade_label(auto) is None and cli.regrade_label(empty) is None


def _reference(model, text: str, rules) -> tuple[dict, tuple[str, ...]]:
    """Probabilities and level n-grams computed through scikit-learn's own transform and predict_proba."""
    x_text = model.text_matrix([text])
    heads, x = (model.hybrid_heads, model._hybrid(x_text, [rules])) if rules else (model.text_heads, x_text)
    probs = {h: dict(zip(clf.classes_, clf.predict_proba(x)[0], strict=True)) for h, clf in heads.items()}
    label = max(probs["level"].items(), key=lambda kv: kv[1])[0]
    coef = heads["level"].coef_[list(heads["level"].classes_).index(label)][: x_text.shape[1]]
    contrib = x_text.multiply(coef).tocsr()
    n_char = len(model.vectorizer.vocabulary_)
    words = model.word_vectorizer.get_feature_names_out()
    grams = [
        str(words[contrib.indices[i] - n_char])
        for i in np.argsort(-contrib.data, kind="stable")
        if contrib.data[i] > 0 and n_char <= contrib.indices[i] < n_char + len(words)
    ]
    grams = [g for g in grams if " " not in g]  # word bigrams are never shown (joined they read as fragments)
    kept: list[str] = []
    for g in grams:
        if re.fullmatch(r"[\u4e00-\u9fff]{2,6}", g) and not any(g in k or k in g for k in kept) and len(kept) < 3:
            kept.append(g)
    return probs, tuple(kept)


def test_grading_arithmetic_matches_scikit_learn(small_model, corpus):
    """The stacked weights give scikit-learn's probabilities and the same level n-grams, with and without rules."""
    for r in corpus[1][::4] + [{"text": "   "}, {"text": "ＡＢＣ abc 12号楼"}]:
        for rules in (None, domain.grade(r["text"], channel="wechat_group")):
            got = small_model.predict(r["text"], rules)
            probs, grams = _reference(small_model, r["text"], rules)
            assert got.level_ngrams == grams
            for head, expected in probs.items():
                assert got.probs[head] == pytest.approx(expected, abs=1e-9)


def test_saved_model_leaves_its_caches_out(small_model, tmp_path):
    text = "楼道灯坏了好几天"
    before = small_model.predict(text)
    small_model.save(tmp_path / "m.pkl")
    assert b"_stacked" not in (tmp_path / "m.pkl").read_bytes()
    again = load(tmp_path / "m.pkl").predict(text)
    assert again.probs == before.probs and again.level_ngrams == before.level_ngrams


@TRAINS
def test_red_head_probability_matches_scikit_learn(corpus):
    """The text-only P(red) used by the policy is the red-vs-rest head (or its mean with the level head)."""
    rows = corpus[0][::6]
    text = "楼下配电箱一直在冒烟，有噼啪的声音"
    for blend in (False, True):
        m = train(rows, red_c=16.0, red_blend=blend)
        x = m.text_matrix([text])
        p_bin = m.red_head.predict_proba(x)[0][list(m.red_head.classes_).index("red")]
        p_lvl = m.text_heads["level"].predict_proba(x)[0][list(m.text_heads["level"].classes_).index("red")]
        expected = 0.5 * (p_bin + p_lvl) if blend else p_bin
        assert m.predict(text).text_red == pytest.approx(expected, abs=1e-9)
    plain = train(rows, red_c=None)
    assert plain.red_head is None
    x = plain.text_matrix([text])
    red = plain.text_heads["level"].predict_proba(x)[0][list(plain.text_heads["level"].classes_).index("red")]
    assert plain.predict(text).text_red == pytest.approx(red, abs=1e-9)


def test_evidence_is_whole_words_never_cut_mid_word(small_model):
    """The console showed “楼电梯” (a char n-gram across 3号楼|电梯): evidence is whole jieba words of the text."""
    from services.triage import model, segment

    shown = 0
    for text in ("3号楼电梯困人了，里面有老人", "8栋电梯广告太吵", "12号楼楼道灯坏了好几天", "地下车库漏水漫到电箱"):
        p = small_model.predict(text, domain.grade(text, channel="wechat_group"))
        words = set(segment.words(model.clean(text)))
        assert all(g in words for g in p.level_ngrams), (text, p.level_ngrams)
        assert "楼电梯" not in p.level_ngrams
        shown += len(p.level_ngrams)
    assert shown >= 4  # evidence is still given, only whole words
