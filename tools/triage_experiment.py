"""Fast leave-one-writer-out loops for triage's category and below-red level heads (the full crossval is slow).

Category in the combined grader depends only on the rules' category and the text-only category head, and below
red the level depends only on the rules' headcount bump and a yellow/green choice of the model
(`grader.combine`), so each loop reproduces its part of the combined grader without fitting the other heads:
per held-out writer it fits the shipped vectorisers on the other writers, then the head(s) under test, and
applies `combine`'s step. Rules grades are cached under var/; hazard features and jieba words are memoised in
the process (none of them depends on the model).

    nice -n 10 python -m tools.triage_experiment [--writers w0,w1,w2,w3] [--params '{"category_c": 4.0}']
    nice -n 10 python -m tools.triage_experiment --head level --writers w0,w1,w2,w3,w4,w5,w6,w7,w8 --jobs 2

`--head level` scores, on the held-out writer's rows labelled yellow or green, the current 3-class text-only
level head (argmax over yellow and green) and yellow-vs-green heads fitted on non-red rows only (C 1, 4, 16;
writers weighed equally or not); a headcount bump by the rules is yellow whatever the head says. Only the
writers in `--writers` are read (trained on and held out), so a writer kept for the honest check is never used
for a choice; `--extra FILE` grades that writer once with heads fitted on all of `--writers` (run it once, after
the choice is made). Prints per-writer and pooled macro-F1 (level: also accuracy) and each fold's CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from services.triage import grader, labelled, segment
from services.triage import model as model_module
from services.triage.model import TriageModel, rules_grade, writer_weights

CACHE = Path("var/triage-experiment-rules.pkl")
BELOW_RED = ["yellow", "green"]
# Below-red level heads tried: name -> (C, writers weighed equally); None is the shipped 3-class text-only head.
LEVEL_VARIANTS: dict[str, tuple[float, bool] | None] = {
    "3-class C=4 (current)": None,
    "yg C=1": (1.0, False),
    "yg C=4": (4.0, False),
    "yg C=16": (16.0, False),
    "yg C=1 writers equal": (1.0, True),
    "yg C=4 writers equal": (4.0, True),
    "yg C=16 writers equal": (16.0, True),
}


def _rules(rows: list[dict]) -> dict[str, tuple[str, bool]]:
    """The rules' category and whether they raised green to yellow by headcount, per text (cached)."""
    cache = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}
    missing = [r for r in rows if r["text"] not in cache]
    for r in missing:
        g = rules_grade(r)
        cache[r["text"]] = (g.category, any(x.startswith("等级：由绿升为黄") for x in g.reasons))
    if missing:
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_bytes(pickle.dumps(cache))
    return cache


def _memoise(rows: list[dict]) -> None:
    """Compute hazard features and jieba words once per text; folds (and forked jobs) reuse them."""
    hazard, words = model_module.hazard_features, segment.word_grams
    hz = {r["text"]: hazard(r["text"]) for r in rows}
    wg = {c: words(c) for c in {model_module.clean(r["text"]) for r in rows}}
    model_module.hazard_features = lambda t: hz[t] if t in hz else hazard(t)
    segment.word_grams = lambda t: wg[t] if t in wg else words(t)  # read when a TriageModel is constructed


def category_predictions(model: TriageModel, test: list[dict], rules: dict[str, tuple[str, bool]]) -> list[str]:
    """The combined grader's category for each test row (grader.combine's category step, no hint)."""
    out = []
    for r in test:
        p = model.predict(r["text"])  # text-only probabilities
        m_cat, m_cp = p.best("category")
        cat = rules[r["text"]][0]
        if m_cat != cat and (cat == "other" or m_cp >= grader.POLICY.category_trust):
            cat = m_cat
        out.append(cat)
    return out


def fit_category(train_rows: list[dict], **params) -> TriageModel:
    """A model whose only head is the text-only category head (the shipped features and settings)."""
    m = TriageModel(red_c=None, recall_target=None, **params)
    x = m.text_matrix([r["text"] for r in train_rows], fit=True)
    m.rules_vectorizer.fit([{"none": 1.0}])
    m.text_heads["category"] = m.category_head(x, train_rows)
    m.text_heads["level"] = m.text_heads["category"]  # predict() reads the level head's evidence; unused here
    return m


def level_predictions(train_rows: list[dict], test: list[dict], rules: dict, params: dict) -> dict[str, list[str]]:
    """Per variant, the combined grader's below-red level of each test row (bumped: yellow, else the head's choice)."""
    m = TriageModel(red_c=None, recall_target=None, **params)
    x = m.text_matrix([r["text"] for r in train_rows], fit=True)
    x_test = m.text_matrix([r["text"] for r in test])
    calm = [i for i, r in enumerate(train_rows) if r["level"] != "red"]
    calm_rows = [train_rows[i] for i in calm]
    bumped = np.array([rules[r["text"]][1] for r in test])
    out = {}
    for name, spec in LEVEL_VARIANTS.items():
        if spec is None:
            clf = LogisticRegression(C=m.c, class_weight="balanced", max_iter=3000)
            clf.fit(x, [r["level"] for r in train_rows])
        else:
            c, equal = spec
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
            weights = writer_weights(calm_rows) if equal else None
            clf.fit(x[calm], [r["level"] for r in calm_rows], sample_weight=weights)
        proba = clf.predict_proba(x_test)
        classes = list(clf.classes_)
        yellow = proba[:, classes.index("yellow")] >= proba[:, classes.index("green")]  # max() keeps the first
        out[name] = ["yellow" if b or y else "green" for b, y in zip(bumped, yellow, strict=True)]
    return out


def _scores(truth: list[str], pred: list[str]) -> dict[str, float]:
    f1 = f1_score(truth, pred, labels=BELOW_RED, average="macro", zero_division=0)
    return {"f1": round(float(f1), 4), "acc": round(float(accuracy_score(truth, pred)), 4)}


def _level_fold(args: tuple) -> tuple[str, list[str], dict[str, list[str]], float]:
    rows, w, rules, params = args
    t0 = time.process_time()
    test = [r for r in rows if r["writer"] == w and r["level"] != "red"]
    preds = level_predictions([r for r in rows if r["writer"] != w], test, rules, params)
    return w, [r["level"] for r in test], preds, round(time.process_time() - t0, 1)


def run_level(rows: list[dict], writers: list[str], params: dict, jobs: int, extra: list[dict] | None = None) -> dict:
    """Below-red level (yellow/green macro-F1 and accuracy) per held-out writer and pooled, per variant."""
    rules = _rules(rows + (extra or []))
    _memoise(rows + (extra or []))
    folds = [(rows, w, rules, params) for w in writers]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_level_fold, folds))
    else:
        results = [_level_fold(f) for f in folds]
    out: dict = {"cpu_s": {w: s for w, _, _, s in results}, "variants": {}}
    for name in LEVEL_VARIANTS:
        per = {w: {"n": len(t), **_scores(t, p[name])} for w, t, p, _ in results}
        truth = [x for _, t, _, _ in results for x in t]
        pred = [x for _, _, p, _ in results for x in p[name]]
        out["variants"][name] = {"per_writer": per, "pooled": _scores(truth, pred)}
    if extra:
        test = [r for r in extra if r["level"] != "red"]
        preds = level_predictions(rows, test, rules, params)
        out["extra"] = {name: _scores([r["level"] for r in test], p) for name, p in preds.items()}
    return out


def run(rows: list[dict], writers: list[str], params: dict, extra: list[dict] | None = None) -> dict:
    """Combined-grader category macro-F1 per held-out writer and pooled."""
    rules = _rules(rows + (extra or []))
    truth_all, pred_all, per = [], [], {}
    for w in writers:
        t0 = time.process_time()
        train_rows = [r for r in rows if r["writer"] != w]
        test = [r for r in rows if r["writer"] == w]
        model = fit_category(train_rows, **params)
        pred = category_predictions(model, test, rules)
        truth = [r["category"] for r in test]
        per[w] = round(float(f1_score(truth, pred, average="macro", zero_division=0)), 4)
        per[w + "_s"] = round(time.process_time() - t0, 1)
        truth_all += truth
        pred_all += pred
    out = {"per_writer": per, "pooled": round(float(f1_score(truth_all, pred_all, average="macro")), 4)}
    if extra:
        model = fit_category(rows, **params)
        pred = category_predictions(model, extra, rules)
        out["extra"] = round(float(f1_score([r["category"] for r in extra], pred, average="macro")), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tools.triage_experiment")
    p.add_argument("--head", choices=("category", "level"), default="category")
    p.add_argument("--writers", default="w0,w1,w2,w3")
    p.add_argument("--params", default="{}", help="TriageModel keyword arguments as JSON")
    p.add_argument("--extra", type=Path, default=None)
    p.add_argument("--jobs", type=int, default=1, help="folds in parallel (level only)")
    args = p.parse_args()
    extra = labelled.read_writer(args.extra) if args.extra else None
    writers = args.writers.split(",")
    rows = [r for r in labelled.read_corpus() if r["writer"] in writers]  # never a writer outside the choice set
    params = json.loads(args.params)
    t0 = time.process_time()
    if args.head == "level":
        result = run_level(rows, writers, params, args.jobs, extra)
    else:
        result = run(rows, writers, params, extra)
    print(json.dumps({"head": args.head, "params": params, **result, "main_cpu_s": round(time.process_time() - t0, 1)}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
