"""Triage grading throughput on one core: rules only and rules+model, printed as one JSON object.

`python -m bench.triage_bench [--seconds S]`. Uses var/triage-model.pkl when present, else trains one in-process
from the shipped corpus (reported as "model_source").
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads: one core means one BLAS thread too

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from services.runtime.settings import get_settings  # noqa: E402
from services.triage import grader, labelled  # noqa: E402
from services.triage.model import load, train  # noqa: E402


def _rate(texts: list[dict], seconds: float, model) -> dict:
    """Grade texts round-robin for about `seconds`; grades per second and mean latency."""
    for r in texts[:20]:  # warm-up
        grader.grade(r["text"], channel=r["channel"], model=model)
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        r = texts[n % len(texts)]
        grader.grade(r["text"], channel=r["channel"], model=model)
        n += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    # CPU per grade as well as wall time: on a shared machine the wall time counts other processes' turns.
    return {"grades": n, "seconds": round(elapsed, 3), "grades_per_second": round(n / elapsed, 1),
            "mean_ms": round(1000 * elapsed / n, 3), "cpu_ms": round(1000 * cpu / n, 3)}  # fmt: skip


def main() -> None:
    """Run the benchmark and print the JSON result."""
    p = argparse.ArgumentParser(prog="python -m bench.triage_bench")
    p.add_argument("--seconds", type=float, default=5.0, help="time per mode")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = labelled.read_corpus()  # every writer's reports: chat, work orders, visit notes, letters
    model = load(get_settings().var_dir / grader.MODEL_FILE)
    source = "var/triage-model.pkl"
    if model is None:
        model, source = train(texts), "trained in-process"
    out = {
        "texts": len(texts),
        "mean_chars": round(sum(len(r["text"]) for r in texts) / len(texts), 1),
        "cpu": platform.processor() or platform.machine(),
        "cores_used": 1,
        "model_source": source,
        "rules_only": _rate(texts, args.seconds, False),
        "combined": _rate(texts, args.seconds, model),
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
