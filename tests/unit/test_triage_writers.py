"""The multi-writer corpus, leave-one-writer-out evaluation and training on every writer."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from services.triage import cli, crossval, labelled
from services.triage.model import load, train, writer_weights
from tools import triage_kappa

pytestmark = pytest.mark.unit
# Trains models: 20-35 s of CPU on a quiet machine, many times that while the other tiers run beside (make test).
TRAINS = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return labelled.read_corpus()


def test_corpus_has_several_independent_writers(rows):
    by_writer = collections.Counter(r["writer"] for r in rows)
    assert by_writer[labelled.SEED_WRITER] == 1491
    others = {w: n for w, n in by_writer.items() if w != labelled.SEED_WRITER}
    assert len(others) >= 3 and sum(others.values()) >= 3000
    raw = sum(1 for p in labelled.WRITERS_DIR.glob("*.jsonl") for line in p.open(encoding="utf-8") if line.strip())
    assert raw == sum(others.values())  # no writer row was dropped as unusable
    for w in others:
        levels = collections.Counter(r["level"] for r in rows if r["writer"] == w)
        assert set(levels) == set(labelled.LEVELS) and levels["red"] >= 0.2 * others[w]
    assert {r["channel"] for r in rows if r["writer"] != "w0"} >= {"wechat_group", "hotline_12345", "door_visit"}


def test_kappa_sample_is_from_the_corpus():
    kappa = labelled.CORPUS_DIR / "kappa"
    report = json.loads((kappa / "kappa_report.json").read_text(encoding="utf-8"))
    second = list(labelled.read_jsonl(kappa / "kappa_second.jsonl"))
    ids = {r["id"] for p in labelled.WRITERS_DIR.glob("*.jsonl") for r in labelled.read_jsonl(p)}
    assert len(second) == 360 and {r["id"] for r in second} <= ids
    assert report["kappa"]["overall"]["level"]["n"] == 360


def test_later_writers_kappa_samples_are_reproducible_and_blind():
    """w5–w12: the sample is the seeded stratified draw, shows only id/text/channel; the reports recompute."""
    kappa = labelled.CORPUS_DIR / "kappa"
    assert triage_kappa.allocate({"red": 224, "yellow": 353, "green": 223}, 120) == {
        "red": 34,
        "yellow": 53,
        "green": 33,
    }
    for w in ("w5", "w6", "w7", "w8", "w9", "w10", "w11", "w12"):
        rows = list(labelled.read_jsonl(labelled.writer_file(w)))
        shown = list(labelled.read_jsonl(kappa / f"{w}_sample.jsonl"))
        second = list(labelled.read_jsonl(kappa / f"{w}_second.jsonl"))
        drawn = triage_kappa.draw(rows)
        assert [r["id"] for r in shown] == [r["id"] for r in drawn] == sorted(r["id"] for r in drawn)
        assert all(set(r) == {"id", "text", "channel"} for r in shown) and len(shown) == 120
        levels = collections.Counter(r["level"] for r in drawn)
        assert dict(levels) == triage_kappa.allocate(
            {lv: sum(r["level"] == lv for r in rows) for lv in labelled.LEVELS}, 120
        )
        assert [r["id"] for r in second] == [r["id"] for r in shown] and all(
            labelled.usable({**r, "text": "x"}) for r in second
        )
        out, diffs = triage_kappa.report(w, write=False)
        assert out == json.loads((kappa / f"{w}_kappa_report.json").read_text(encoding="utf-8"))
        assert out["raw_agreement_all_four_heads"]["rows_agreeing_on_level_route_kind_category"] == 120 - len(diffs)
    w4 = {r["id"] for r in labelled.read_jsonl(labelled.WRITERS_DIR / "w4.jsonl")}
    second = [r["id"] for r in labelled.read_jsonl(kappa / "w4_second.jsonl")]
    assert len(set(second)) == 120 and set(second) <= w4
    assert json.loads((kappa / "w4_kappa_report.json").read_text(encoding="utf-8"))["kappa"]["level"]["n"] == 120


def test_kappa_matches_sklearn_and_hand_computation():
    first = ["red", "red", "yellow", "green", "green", "yellow"]
    second = ["red", "yellow", "yellow", "green", "yellow", "yellow"]
    k = triage_kappa.kappa(first, second)  # po 4/6, pe (2*1 + 2*4 + 2*1)/36 = 1/3, kappa 0.5
    assert k == {"n": 6, "observed_agreement": 0.6667, "expected_agreement": 0.3333, "kappa": 0.5}


def test_usable_rejects_bad_labels():
    good = {"text": "电梯困人", "level": "red", "route": "deliberate", "kind": "problem", "category": "elevator"}
    assert labelled.usable(good)
    assert not labelled.usable({**good, "route": "direct"})  # red always deliberates
    assert not labelled.usable({**good, "category": "nope"}) and not labelled.usable({**good, "text": " "})


def _sample(rows: list[dict], per_writer: int = 45) -> list[dict]:
    out: list[dict] = []
    for w in sorted({r["writer"] for r in rows}):
        mine = [r for r in rows if r["writer"] == w]
        out += mine[:: max(1, len(mine) // per_writer)][:per_writer]
    return out


@TRAINS
def test_leave_one_writer_out_never_trains_on_the_held_out_writer(rows):
    sample = _sample(rows, per_writer=25)
    seen: list[set[str]] = []

    def fit(train_rows: list[dict]):
        seen.append({r["writer"] for r in train_rows})
        return train(train_rows, red_c=None)  # fewer heads: this test is about the folds, not the fit

    out = crossval.crossval(sample, modes=("rules", "combined"), fit=fit)
    writers = sorted({r["writer"] for r in sample})
    assert list(out["leave_one_writer_out"]) == writers
    for w, trained_on in zip(writers, seen, strict=False):
        assert w not in trained_on and trained_on == set(writers) - {w}
    for w, result in out["leave_one_writer_out"].items():
        n = sum(r["writer"] == w for r in sample)
        assert result["combined"]["n"] == n and result["train_rows"] == len(sample) - n
        reds = sum(r["writer"] == w and r["level"] == "red" for r in sample)
        missed = reds - result["combined"]["level_confusion"]["matrix"][0][0]
        assert len(result["combined_red_misses"]) == missed
    assert out["pooled_unseen_writers"]["combined"]["n"] == len(sample)
    assert out["random_split"]["combined"]["n"] + out["random_split"]["train_rows"] == len(sample)


@TRAINS
def test_train_command_uses_every_writer(tmp_path, monkeypatch, capsys, rows):
    sample = _sample(rows, per_writer=30)
    monkeypatch.setattr(labelled, "read_corpus", lambda: sample)  # a small corpus keeps the fit quick
    cli.cmd_train(["--out", str(tmp_path / "m.pkl")])
    out = json.loads(capsys.readouterr().out)
    assert out["corpus_rows"] == len(sample) == load(tmp_path / "m.pkl").trained_on["rows"]


def test_crossval_extra_writer_is_never_trained_on(tmp_path, monkeypatch, capsys, rows):
    """`crossval --extra w4.jsonl` holds that writer out of every fold, although its file sits in the corpus."""
    sample = _sample(rows, per_writer=12)
    monkeypatch.setattr(labelled, "read_corpus", lambda: sample)
    extra = tmp_path / "w9.jsonl"
    labelled.write_jsonl(extra, [{**r, "writer": "w9"} for r in sample if r["writer"] == "w1"])
    sample += [{**r, "writer": "w9"} for r in sample if r["writer"] == "w1"]  # as if w9 were in writers/ too
    seen: list[set[str]] = []

    def fake(rows_, **kw):
        seen.append({r["writer"] for r in rows_})
        return {"writers": {}}

    monkeypatch.setattr(crossval, "crossval", fake)
    cli.cmd_crossval(["--extra", str(extra), "--no-random"])
    assert seen and "w9" not in seen[0] and "w1" in seen[0]


@TRAINS
def test_red_head_is_a_calibrated_svm_with_a_nested_threshold(rows):
    """The red head is a linear SVM mapped to P(red) by Platt scaling fitted on the inner held-out writers' scores."""
    sample = _sample(rows, per_writer=40)
    m = train(sample)
    sel = m.red_selection
    assert sel["red_loss"] == "svm" and len(sel["platt"]) == 2 and sel["platt"][0] > 0
    assert 0.0 < m.red_threshold < 1.0 and sel["inner_recall"] >= 0.96
    # P(red) grows with the SVM's margin; the route head below red never saw a red row.
    texts = ["家里燃气管嘶嘶响，闻到很浓的煤气味", "小区路灯坏了一盏"]
    assert m.predict(texts[0]).text_red > m.predict(texts[1]).text_red
    calm = [r for r in sample if r["level"] != "red"]
    x = m.text_matrix([r["text"] for r in calm])
    again = LogisticRegression(C=m.c, class_weight="balanced", max_iter=3000).fit(x, [r["route"] for r in calm])
    assert np.allclose(m.text_heads["route"].coef_, again.coef_, atol=1e-4)
    logistic = train(sample, red_loss="logistic", red_c=64.0)
    assert "platt" not in logistic.red_selection and 0.0 < logistic.red_threshold < 1.0


def test_writer_weights_give_every_writer_the_same_total():
    rows = [{"writer": "a"}] * 6 + [{"writer": "b"}] * 2 + [{}] * 4
    w = writer_weights(rows)
    assert np.isclose(w.mean(), 1.0)
    totals = {g: w[i : i + n].sum() for g, i, n in (("a", 0, 6), ("b", 6, 2), ("none", 8, 4))}
    assert np.allclose(list(totals.values()), len(rows) / 3)  # rows without a writer form one group


@TRAINS
def test_category_head_has_its_own_c_and_weighs_writers_equally(rows):
    """The category head the grader reads: C=16, classes balanced, every training writer weighing the same."""
    sample = _sample(rows, per_writer=30)
    sample += [r for r in rows if r["writer"] == "w1"][500:540]  # one writer with more rows than the others
    m = train(sample, red_c=None)
    assert m.category_c == 16.0 and m.category_writer_weights
    x = m.text_matrix([r["text"] for r in sample])
    y = [r["category"] for r in sample]
    again = LogisticRegression(C=16.0, class_weight="balanced", max_iter=3000)
    again.fit(x, y, sample_weight=writer_weights(sample))
    assert np.allclose(m.text_heads["category"].coef_, again.coef_, atol=1e-4)
    unweighted = LogisticRegression(C=16.0, class_weight="balanced", max_iter=3000).fit(x, y)
    assert not np.allclose(m.text_heads["category"].coef_, unweighted.coef_, atol=1e-3)
    assert m.hybrid_heads["category"].C == m.c  # the hybrid head keeps the shared C (not read for category)
    old = train(sample, red_c=None, category_c=m.c, category_writer_weights=False)  # policy v3's head
    plain = LogisticRegression(C=m.c, class_weight="balanced", max_iter=3000).fit(x, y)
    assert np.allclose(old.text_heads["category"].coef_, plain.coef_, atol=1e-4)


def test_held_out_writers_are_never_trained_on(rows):
    """w11/w12 stay out of training (docs/triage.md, "Held-out writers"); the kappa tool still finds their files."""
    held = sorted(labelled.HELD_OUT_WRITERS_DIR.glob("*.jsonl"))
    assert {p.stem for p in held} >= {"w11", "w12"}
    trained_writers = {r["writer"] for r in rows}
    for path in held:
        assert path.stem not in trained_writers
        assert labelled.writer_file(path.stem) == path
        assert len(labelled.read_writer(path)) == sum(1 for _ in labelled.read_jsonl(path))  # every row usable
