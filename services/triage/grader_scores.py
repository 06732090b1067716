"""Measure a grader on labelled rows: accuracy and macro-F1 per head, the level confusion matrix, red recall."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from services.triage import grader
from services.triage.domain import Grade
from services.triage.model import HEADS, TriageModel

LEVEL_ORDER = ["red", "yellow", "green"]
MODES = ("rules", "model", "combined")


def grader_for(mode: str, model: TriageModel | None) -> Callable[[dict], Grade]:
    """A function grading one labelled row the way `mode` does."""
    if mode != "rules" and model is None:
        raise ValueError(f"mode {mode!r} needs a trained model")

    def run(row: dict) -> Grade:
        households = int(row.get("households_affected") or 1)
        if mode == "model":  # text n-grams alone, no rules
            return grader.model_only(row["text"], model.predict(row["text"]))
        return grader.grade(
            row["text"],
            channel=row.get("channel", "miniprogram"),
            households=households,
            model=model if mode == "combined" else False,
        )

    return run


def score(rows: list[dict], grades: list[Grade]) -> dict:
    """The evaluation object printed by `python -m services.triage evaluate`."""
    out: dict = {"n": len(rows)}
    for head in HEADS:
        truth = [r[head] for r in rows]
        pred = [getattr(g, head) for g in grades]
        out[head] = {
            "accuracy": round(float(accuracy_score(truth, pred)), 4),
            "macro_f1": round(float(f1_score(truth, pred, average="macro", zero_division=0)), 4),
        }
    truth = [r["level"] for r in rows]
    pred = [g.level for g in grades]
    matrix = confusion_matrix(truth, pred, labels=LEVEL_ORDER)
    out["level_confusion"] = {
        "labels": LEVEL_ORDER,
        "rows": "true level",
        "columns": "graded level",
        "matrix": matrix.tolist(),
    }
    has_red = "red" in truth
    red_recall = recall_score(truth, pred, labels=["red"], average="macro", zero_division=0) if has_red else None
    out["red_recall"] = None if red_recall is None else round(float(red_recall), 4)
    out["needs_review_share"] = round(sum(g.needs_review for g in grades) / max(1, len(grades)), 4)
    return out


def evaluate(rows: list[dict], mode: str, model: TriageModel | None) -> dict:
    """Grade every row with `mode` and score it."""
    run = grader_for(mode, model)
    result = score(rows, [run(r) for r in rows])
    return {"mode": mode, **result}
