"""Measure the wording rule of clustering on pairs built from the writers' corpus (docs/triage.md, "Clustering").

Positives: a random sample of 80 writer rows (w1–w3, problems), each rewritten in another voice (a WeChat
message as a 12345 summary, a work order as a chat message...), in `corpus/cluster/rewrites.jsonl`: the same
incident by construction. Negatives: each original and each rewrite against 20 other writer rows of the same
labelled category (seeded), which describe other incidents; rows sharing the original's hazard tag are left
out as ambiguous. Dev and test halves split the sampled rows; the threshold is chosen on dev only.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass
from pathlib import Path

from services.triage import labelled, similar
from services.triage.grader import grade

REWRITES = Path(__file__).parent / "corpus" / "cluster" / "rewrites.jsonl"
NEGATIVES_PER_ROW = 20
SEED = 20261207


@dataclass(frozen=True)
class Pair:
    """Two texts, whether they describe one incident, and which half they belong to."""

    a: str
    b: str
    same: bool
    split: str
    category_a: str
    category_b: str


def pairs(path: Path = REWRITES) -> list[Pair]:
    """The evaluation pairs (positives and same-category negatives)."""
    corpus = [r for r in labelled.read_corpus() if r["writer"] != labelled.SEED_WRITER and r["kind"] == "problem"]
    by_id = {r["id"]: r for r in corpus}
    rng = random.Random(SEED)
    out: list[Pair] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rw = json.loads(line)
        orig = by_id[rw["id"]]
        out.append(Pair(orig["text"], rw["rewrite"], True, rw["split"], orig["category"], orig["category"]))
        others = [
            r
            for r in corpus
            if r["category"] == orig["category"]
            and r["id"] != orig["id"]
            and not (orig.get("hazard") and r.get("hazard") == orig.get("hazard"))
        ]
        for other in rng.sample(others, min(NEGATIVES_PER_ROW, len(others))):
            for text in (orig["text"], rw["rewrite"]):
                out.append(Pair(text, other["text"], False, rw["split"], orig["category"], other["category"]))
    return out


@functools.lru_cache(maxsize=4096)
def _category(text: str) -> str:
    return grade(text, channel="miniprogram").category


def _counts(scored: list[tuple[float, bool]], threshold: float) -> dict:
    tp = sum(1 for s, y in scored if y and s >= threshold)
    fp = sum(1 for s, y in scored if not y and s >= threshold)
    pos = sum(1 for _, y in scored if y)
    neg = len(scored) - pos
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / pos if pos else 0.0
    return {
        "threshold": threshold,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
        "false_positive_rate": round(fp / neg, 4) if neg else 0.0,
        "positives": pos,
        "negatives": neg,
    }


def evaluate(thresholds: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)) -> dict:
    """Precision and recall per threshold on dev and test, and the hardest negatives of each half."""
    ps = pairs()
    result: dict = {"threshold_shipped": similar.THRESHOLD}
    for split in ("dev", "test"):
        half = [p for p in ps if p.split == split]
        scored = [(similar.similarity(p.a, [p.b]), p.same) for p in half]
        result[split] = [_counts(scored, t) for t in thresholds]
        result[f"{split}_shipped"] = _counts(scored, similar.THRESHOLD)
        # The rule before wording was compared: same graded category joins (place is the same in every pair).
        same_category = [(float(_category(p.a) == _category(p.b)), p.same) for p in half]
        result[f"{split}_category_rule"] = _counts(same_category, 1.0)
        result[f"{split}_false_joins"] = [
            [round(s, 3), p.a[:80], p.b[:80]] for (s, y), p in zip(scored, half, strict=True)
            if not y and s >= similar.THRESHOLD
        ]  # fmt: skip
        misses = sorted((s, p.a, p.b) for (s, y), p in zip(scored, half, strict=True) if y)
        worst = sorted(((s, p.a, p.b) for (s, y), p in zip(scored, half, strict=True) if not y), reverse=True)
        result[f"{split}_weakest_positives"] = [[round(s, 3), a[:60], b[:60]] for s, a, b in misses[:8]]
        result[f"{split}_strongest_negatives"] = [[round(s, 3), a[:60], b[:60]] for s, a, b in worst[:8]]
    return result
