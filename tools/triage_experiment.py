"""A fast leave-one-writer-out loop for triage's category head (the full crossval takes ~25 minutes).

Category in the combined grader depends only on the rules' category and the text-only category head
(`grader.combine`), so this loop reproduces the combined grader's category exactly without fitting the level,
route, kind and red heads: per held-out writer it fits the shipped vectorisers and the text-only category head
on the other writers and applies `grader.combine`'s category step. Rules grades and hazard features are cached
under var/ (they do not depend on the model).

    nice -n 10 python -m tools.triage_experiment [--writers w0,w1,w2,w3] [--params '{"category_c": 4.0}']

Only the writers in `--writers` are read (trained on and held out), so a writer kept for the honest check is
never used for a choice; `--extra FILE` grades that writer once with a head fitted on all of `--writers` (run it
once, after the choice is made). Prints per-writer and pooled category macro-F1 and each fold's CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from services.triage import grader, labelled
from services.triage.model import TriageModel, rules_grade

CACHE = Path("var/triage-experiment-cache.pkl")


def _rules(rows: list[dict]) -> dict[str, str]:
    """The rules' category per text (cached)."""
    cache = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}
    missing = [r for r in rows if r["text"] not in cache]
    for r in missing:
        cache[r["text"]] = rules_grade(r).category
    if missing:
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_bytes(pickle.dumps(cache))
    return cache


def category_predictions(model: TriageModel, test: list[dict], rules_cat: dict[str, str]) -> list[str]:
    """The combined grader's category for each test row (grader.combine's category step, no hint)."""
    out = []
    for r in test:
        p = model.predict(r["text"])  # text-only probabilities
        m_cat, m_cp = p.best("category")
        cat = rules_cat[r["text"]]
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


def run(rows: list[dict], writers: list[str], params: dict, extra: list[dict] | None = None) -> dict:
    rules_cat = _rules(rows + (extra or []))
    truth_all, pred_all, per = [], [], {}
    for w in writers:
        t0 = time.process_time()
        train_rows = [r for r in rows if r["writer"] != w]
        test = [r for r in rows if r["writer"] == w]
        model = fit_category(train_rows, **params)
        pred = category_predictions(model, test, rules_cat)
        truth = [r["category"] for r in test]
        per[w] = round(float(f1_score(truth, pred, average="macro", zero_division=0)), 4)
        per[w + "_s"] = round(time.process_time() - t0, 1)
        truth_all += truth
        pred_all += pred
    out = {"per_writer": per, "pooled": round(float(f1_score(truth_all, pred_all, average="macro")), 4)}
    if extra:
        model = fit_category(rows, **params)
        pred = category_predictions(model, extra, rules_cat)
        out["extra"] = round(float(f1_score([r["category"] for r in extra], pred, average="macro")), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tools.triage_experiment")
    p.add_argument("--writers", default="w0,w1,w2,w3")
    p.add_argument("--params", default="{}", help="TriageModel keyword arguments as JSON")
    p.add_argument("--extra", type=Path, default=None)
    args = p.parse_args()
    extra = labelled.read_writer(args.extra) if args.extra else None
    writers = args.writers.split(",")
    rows = [r for r in labelled.read_corpus() if r["writer"] in writers]  # never a writer outside the choice set
    params = json.loads(args.params)
    print(json.dumps({"params": params, **run(rows, writers, params, extra)}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
