"""Honest evaluation: leave-one-writer-out (train on the other writers, grade the held-out writer's reports)
next to a random row split, for the rules, the model and the combined grader.

`python -m services.triage crossval` prints one JSON object; docs/triage.md keeps the table.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from services.triage import labelled, metrics
from services.triage.domain import Grade
from services.triage.model import train

RANDOM_SEED = 20261207
MODES = metrics.MODES


def random_split(rows: list[dict], share: float = 0.2, seed: int = RANDOM_SEED) -> tuple[list[dict], list[dict]]:
    """A random row split stratified by level (all writers on both sides): the optimistic figure."""
    rng = random.Random(seed)
    train_rows, test_rows = [], []
    for level in labelled.LEVELS:
        group = [r for r in rows if r["level"] == level]
        rng.shuffle(group)
        cut = round(len(group) * share)
        test_rows += group[:cut]
        train_rows += group[cut:]
    return train_rows, test_rows


def _misses(rows: list[dict], grades: list[Grade], limit: int = 40) -> list[dict]:
    """Red reports graded below red, with the grade given (the confusion of the misses)."""
    out = []
    for r, g in zip(rows, grades, strict=True):
        if r["level"] == "red" and g.level != "red":
            out.append({"id": r.get("id"), "writer": r.get("writer"), "graded": g.level, "hazard": r.get("hazard"),
                        "text": r["text"][:80]})  # fmt: skip
    return out[:limit]


def grade_all(rows: list[dict], mode: str, model) -> list[Grade]:
    """Grade every row the way `mode` does."""
    run = metrics.grader_for(mode, model)
    return [run(r) for r in rows]


def evaluate_split(train_rows: list[dict], test_rows: list[dict], modes=MODES, fit: Callable = train,
                   misses: bool = True) -> dict:  # fmt: skip
    """Fit on `train_rows`, score every mode on `test_rows`; the combined mode's red misses listed."""
    model = fit(train_rows)
    out: dict = {"train_rows": len(train_rows)}
    for mode in modes:
        grades = grade_all(test_rows, mode, model)
        out[mode] = metrics.score(test_rows, grades)
        if misses and mode == "combined":
            out["combined_red_misses"] = _misses(test_rows, grades)
    return out


def crossval(rows: list[dict], modes=MODES, fit: Callable = train, writers: list[str] | None = None) -> dict:
    """Leave-one-writer-out for every writer (or `writers`), pooled over the held-out writers, and a random split."""
    names = writers or sorted({r["writer"] for r in rows})
    by_writer, pooled_rows, pooled_grades = {}, [], {m: [] for m in modes}
    for w in names:
        test_rows = [r for r in rows if r["writer"] == w]
        train_rows = [r for r in rows if r["writer"] != w]
        model = fit(train_rows)
        result: dict = {"train_rows": len(train_rows)}
        for mode in modes:
            grades = grade_all(test_rows, mode, model)
            result[mode] = metrics.score(test_rows, grades)
            pooled_grades[mode] += grades
            if mode == "combined":
                result["combined_red_misses"] = _misses(test_rows, grades)
        pooled_rows += test_rows
        by_writer[w] = result
    pooled = {m: metrics.score(pooled_rows, pooled_grades[m]) for m in modes}
    tr, te = random_split(rows)
    return {
        "writers": {w: sum(r["writer"] == w for r in rows) for w in names},
        "leave_one_writer_out": by_writer,
        "pooled_unseen_writers": pooled,
        "random_split": evaluate_split(tr, te, modes, fit, misses=False),
    }
