"""Honest evaluation: leave-one-writer-out (train on the other writers, grade the held-out writer's reports)
next to a random row split, for the rules, the model and the combined grader.

`python -m services.triage crossval` prints one JSON object; docs/triage.md keeps the table.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from services.triage import grader_scores, labelled
from services.triage.domain import Grade
from services.triage.model import train

RANDOM_SEED = 20261207
MODES = grader_scores.MODES


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
    run = grader_scores.grader_for(mode, model)
    return [run(r) for r in rows]


def _fold(job: tuple) -> tuple:
    """One fitted model's grades: (key, {train_rows, red_threshold}, test rows, {mode: grades}); in a worker."""
    key, train_rows, test_rows, modes, fit = job
    model = fit(train_rows)
    grades = {m: grade_all(test_rows, m, model) for m in modes}
    fitted = {"train_rows": len(train_rows), "red_threshold": getattr(model, "red_threshold", None)}
    return key, fitted, test_rows, grades


def _result(fitted: dict, test_rows: list[dict], grades: dict, misses: bool = True) -> dict:
    result: dict = dict(fitted)
    for mode, gs in grades.items():
        result[mode] = grader_scores.score(test_rows, gs)
        if misses and mode == "combined":
            result["combined_red_misses"] = _misses(test_rows, gs)
    return result


def crossval(rows: list[dict], modes=MODES, fit: Callable = train, writers: list[str] | None = None,
             extra: list[dict] | None = None, jobs: int = 1, random: bool = True) -> dict:  # fmt: skip
    """Leave-one-writer-out for every writer (or `writers`), pooled over the held-out writers, and a random split.

    `extra` rows (writers outside the corpus, e.g. one written after the model was designed) are never trained
    on: a model fitted on the whole corpus grades them, per writer, under `extra_writers`. `jobs` > 1 fits the
    folds in that many processes (same results).
    """
    names = writers or sorted({r["writer"] for r in rows})
    work = [(w, [r for r in rows if r["writer"] != w], [r for r in rows if r["writer"] == w], modes, fit)
            for w in names]  # fmt: skip
    if random:
        tr, te = random_split(rows)
        work.append(("random", tr, te, modes, fit))
    if extra:
        work.append(("extra", rows, extra, modes, fit))
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = {key: (n, test, grades) for key, n, test, grades in pool.map(_fold, work)}
    else:
        done = {key: (n, test, grades) for key, n, test, grades in map(_fold, work)}
    by_writer, pooled_rows, pooled_grades = {}, [], {m: [] for m in modes}
    for w in names:
        n, test_rows, grades = done[w]
        by_writer[w] = _result(n, test_rows, grades)
        pooled_rows += test_rows
        for m in modes:
            pooled_grades[m] += grades[m]
    out = {
        "writers": {w: sum(r["writer"] == w for r in rows) for w in names},
        "leave_one_writer_out": by_writer,
        "pooled_unseen_writers": {m: grader_scores.score(pooled_rows, pooled_grades[m]) for m in modes},
    }
    if random:
        n, test_rows, grades = done["random"]
        out["random_split"] = _result(n, test_rows, grades, misses=False)
    if extra:
        n, test_rows, grades = done["extra"]
        out["extra_writers"] = {}
        for w in sorted({r["writer"] for r in extra}):
            keep = [i for i, r in enumerate(test_rows) if r["writer"] == w]
            sub = {m: [gs[i] for i in keep] for m, gs in grades.items()}
            out["extra_writers"][w] = {"rows": len(keep), **_result(n, [test_rows[i] for i in keep], sub)}
    return out
