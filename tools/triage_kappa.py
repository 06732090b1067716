"""Blind second-labeller sample and Cohen's kappa for one writer file of the triage corpus.

Two steps, run from the repository root:

    python -m tools.triage_kappa sample w5     # writes corpus/kappa/w5_sample.jsonl (id, text, channel only)
    # ... the second labeller labels that file alone into corpus/kappa/w5_second.jsonl ...
    python -m tools.triage_kappa report w5     # writes corpus/kappa/w5_kappa_report.json, prints the differences

The sample is stratified by the first labeller's level with proportional allocation (largest remainder), drawn
with random.Random(SEED) stratum by stratum (red, yellow, green) over the rows in file order, and written sorted
by id, so the file shows the second labeller nothing about the first labels. `sample` prints only the stratum
sizes. Kappa is (po - pe) / (1 - pe) with pe from the two labellers' marginals, checked against
sklearn.metrics.cohen_kappa_score.
"""

from __future__ import annotations

import collections
import json
import random
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from services.triage import labelled

SEED = 20261207
N = 120
KAPPA_DIR = labelled.CORPUS_DIR / "kappa"
HEADS = ("level", "red_vs_not", "route", "kind", "category")
SAMPLE_FIELDS = ("id", "text", "channel")


def _rel(path: Path) -> str:
    return str(path.relative_to(labelled.CORPUS_DIR.parents[2]))


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of n over strata by largest remainder (ties: stratum order)."""
    total = sum(sizes.values())
    exact = {k: n * v / total for k, v in sizes.items()}
    out = {k: int(x) for k, x in exact.items()}
    order = sorted(sizes, key=lambda k: (-(exact[k] - out[k]), list(sizes).index(k)))
    for k in order[: n - sum(out.values())]:
        out[k] += 1
    return out


def draw(rows: list[dict], n: int = N, seed: int = SEED) -> list[dict]:
    """The stratified sample: n rows, level strata in labelled.LEVELS order, sorted by id."""
    strata = {lv: [i for i, r in enumerate(rows) if r["level"] == lv] for lv in labelled.LEVELS}
    take = allocate({lv: len(ix) for lv, ix in strata.items()}, n)
    rng = random.Random(seed)
    picked: list[int] = []
    for lv in labelled.LEVELS:
        picked += rng.sample(strata[lv], take[lv])
    return sorted((rows[i] for i in picked), key=lambda r: r["id"])


def sample(writer: str) -> dict:
    """Write {writer}_sample.jsonl with id, text and channel only; return the stratum sizes."""
    rows = list(labelled.read_jsonl(labelled.writer_file(writer)))
    picked = draw(rows)
    labelled.write_jsonl(KAPPA_DIR / f"{writer}_sample.jsonl", [{k: r[k] for k in SAMPLE_FIELDS} for r in picked])
    population = collections.Counter(r["level"] for r in rows)
    return {
        "population": len(rows),
        "n": len(picked),
        "strata_population": {lv: population[lv] for lv in labelled.LEVELS},
        "strata_sample": allocate({lv: population[lv] for lv in labelled.LEVELS}, N),
    }


def _value(row: dict, head: str) -> str:
    if head == "red_vs_not":
        return "red" if row["level"] == "red" else "not_red"
    return row[head]


def kappa(first: list[str], second: list[str]) -> dict:
    """Observed, chance-expected agreement and Cohen's kappa; asserts agreement with sklearn."""
    n = len(first)
    po = sum(a == b for a, b in zip(first, second, strict=True)) / n
    c1, c2 = collections.Counter(first), collections.Counter(second)
    pe = sum(c1[k] * c2[k] for k in set(c1) | set(c2)) / (n * n)
    k = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    assert abs(k - cohen_kappa_score(first, second)) < 1e-9, (k, cohen_kappa_score(first, second))
    return {"n": n, "observed_agreement": round(po, 4), "expected_agreement": round(pe, 4), "kappa": round(k, 4)}


def report(writer: str, write: bool = True) -> tuple[dict, list[dict]]:
    """Compare the writer's labels with {writer}_second.jsonl; return the report (written unless write=False) and the
    rows that differ."""
    source = labelled.writer_file(writer)
    rows = list(labelled.read_jsonl(source))
    by_id = {r["id"]: r for r in rows}
    second = list(labelled.read_jsonl(KAPPA_DIR / f"{writer}_second.jsonl"))
    expected = [r["id"] for r in draw(rows)]
    if sorted(r["id"] for r in second) != expected:
        raise SystemExit(f"{writer}_second.jsonl does not hold exactly the drawn sample")
    first = [by_id[r["id"]] for r in second]
    population = collections.Counter(r["level"] for r in rows)
    figures = {h: kappa([_value(a, h) for a in first], [_value(b, h) for b in second]) for h in HEADS}
    same_all = sum(all(a[h] == b[h] for h in labelled.HEADS) for a, b in zip(first, second, strict=True))
    confusion = collections.Counter(f"{a['level']}->{b['level']}" for a, b in zip(first, second, strict=True))
    out = {
        "description": (
            f"Cohen's kappa, first labeller (writers/{writer}.jsonl) vs a blind second labeller "
            f"({writer}_second.jsonl) who saw only id, channel and text ({writer}_sample.jsonl); sample of {N} "
            f"of the {len(rows)} {writer} rows stratified by the first labeller's level with proportional "
            f"allocation (largest remainder), random.Random({SEED}).sample per stratum (red, yellow, green) "
            "over the rows in file order; tools/triage_kappa.py"
        ),
        "seed": SEED,
        "source": _rel(source),
        "population": len(rows),
        "n": len(second),
        "strata_population": {lv: population[lv] for lv in labelled.LEVELS},
        "strata_sample": allocate({lv: population[lv] for lv in labelled.LEVELS}, N),
        "second_labels": _rel(KAPPA_DIR / f"{writer}_second.jsonl"),
        "method": (
            "kappa = (po - pe) / (1 - pe), pe from the two labellers' marginals; checked against "
            "sklearn.metrics.cohen_kappa_score"
        ),
        "kappa": figures,
        "raw_agreement_all_four_heads": {
            "n": len(second),
            "rows_agreeing_on_level_route_kind_category": same_all,
            "rate": round(same_all / len(second), 4),
        },
        "level_confusion_first_to_second": dict(confusion.most_common()),
        "level_counts": {
            "first": {lv: sum(r["level"] == lv for r in first) for lv in labelled.LEVELS},
            "second": {lv: sum(r["level"] == lv for r in second) for lv in labelled.LEVELS},
        },
        "red_vs_not_disagreements": [
            b["id"] for a, b in zip(first, second, strict=True) if (a["level"] == "red") != (b["level"] == "red")
        ],
        "note": (
            f"the second labeller labelled all {len(second)} rows and wrote {writer}_second.jsonl before any "
            f"comparison; {writer}.jsonl was not changed"
        ),
    }
    if write:
        (KAPPA_DIR / f"{writer}_kappa_report.json").write_text(
            json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    diffs = [
        {
            "id": b["id"],
            "channel": a["channel"],
            "text": a["text"],
            "first": {h: a.get(h) for h in (*labelled.HEADS, "hazard", "note")},
            "second": {h: b.get(h) for h in (*labelled.HEADS, "hazard")},
            "heads": [h for h in labelled.HEADS if a[h] != b[h]],
        }
        for a, b in zip(first, second, strict=True)
        if any(a[h] != b[h] for h in labelled.HEADS)
    ]
    return out, diffs


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("sample", "report"):
        print(__doc__)
        return 2
    if argv[0] == "sample":
        print(json.dumps(sample(argv[1]), ensure_ascii=False))
        return 0
    out, diffs = report(argv[1])
    print(json.dumps(out["kappa"], ensure_ascii=False))
    for d in diffs:
        print(json.dumps(d, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
