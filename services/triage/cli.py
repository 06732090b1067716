"""Triage's command line: build the corpus, train (optionally with accepted regrades), evaluate, cross-validate by
writer, export labels."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from sqlmodel import select

from services.runtime.db import Database
from services.runtime.migrate import upgrade
from services.runtime.settings import get_settings
from services.triage import crossval, grader, grader_scores, labelled
from services.triage.model import HEADS, TriageModel, load, train
from services.triage.models import Regrade

AUTOMATIC = "triage"  # regrades by the service itself (headcount) are not human labels


def regrade_label(r: Regrade) -> dict | None:
    """A human-accepted grade (staff regrade or confirmation) as a corpus row; None for automatic ones."""
    after = r.after or {}
    if r.by == AUTOMATIC or r.action in ("merge", "split"):
        return None  # automatic, or staff moving reports (not a judgement on the grade)
    if not r.text.strip() or not all(after.get(h) for h in HEADS):
        return None
    return {
        "text": r.text,
        "channel": "regrade",
        **{h: after[h] for h in HEADS},
        "households_affected": int(after.get("households") or 1),
        "source": f"{r.action or 'regrade'}:{r.matter_id}",
    }


async def accepted_regrades(db: Database) -> list[dict]:
    """Every accepted regrade in triage's own database as labelled rows; the latest per matter wins."""
    async with db.session() as s:
        rows = (await s.exec(select(Regrade).order_by(Regrade.id))).all()
    latest: dict[str, dict] = {}
    for r in rows:
        label = regrade_label(r)
        if label is not None:
            latest[r.matter_id] = label
    return list(latest.values())


async def _read_db_regrades() -> list[dict]:
    db = Database(get_settings().database_url("triage"))
    try:
        from services.triage.app import spec

        await upgrade(db, spec().migrations)
        return await accepted_regrades(db)
    finally:
        await db.dispose()


def model_path() -> Path:
    """Where the service loads its model from (var/triage-model.pkl)."""
    return get_settings().var_dir / grader.MODEL_FILE


def cmd_train(argv: list[str]) -> None:
    """Train on the whole shipped corpus, every writer (+ accepted regrades), and save under var/."""
    p = argparse.ArgumentParser(prog="python -m services.triage train")
    p.add_argument("--with-regrades", action="store_true", help="add accepted regrades from triage's database")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    rows = labelled.read_corpus()  # every writer: the seeds' renderings (w0) and the independent writers
    extra = asyncio.run(_read_db_regrades()) if args.with_regrades else []
    model = train(rows + extra)
    out = args.out or model_path()
    model.save(out)
    print(json.dumps({"model": str(out), "corpus_rows": len(rows), "regrade_rows": len(extra), **model.trained_on}))


def cmd_evaluate(argv: list[str]) -> None:
    """Print one JSON object scoring the service's grader (or --mode) on a labelled JSONL file."""
    p = argparse.ArgumentParser(prog="python -m services.triage evaluate")
    p.add_argument("file", type=Path, nargs="?", default=labelled.HELDOUT)
    p.add_argument("--mode", choices=grader_scores.MODES, default=None, help="default: combined if a model exists")
    p.add_argument("--model", type=Path, default=None, help="default: var/triage-model.pkl")
    p.add_argument("--compare", action="store_true", help="also score every available mode")
    args = p.parse_args(argv)
    model: TriageModel | None = load(args.model or model_path())
    mode = args.mode or ("combined" if model else "rules")
    if mode != "rules" and model is None:
        raise SystemExit("no trained model: run `python -m services.triage train` first")
    rows = list(labelled.read_jsonl(args.file))
    out = grader_scores.evaluate(rows, mode, model)
    if args.compare:
        modes = grader_scores.MODES if model else ("rules",)
        out["alternatives"] = {m: grader_scores.evaluate(rows, m, model) for m in modes}
    print(json.dumps(out, ensure_ascii=False))


def cmd_export(argv: list[str]) -> None:
    """Write accepted regrades from triage's database as JSONL (stdout or a file)."""
    p = argparse.ArgumentParser(prog="python -m services.triage export-regrades")
    p.add_argument("out", type=Path, nargs="?")
    args = p.parse_args(argv)
    rows = asyncio.run(_read_db_regrades())
    if args.out:
        labelled.write_jsonl(args.out, rows)
    else:
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def cmd_corpus(argv: list[str]) -> None:
    """Rebuild the shipped corpus files from seeds.txt."""
    argparse.ArgumentParser(prog="python -m services.triage corpus").parse_args(argv)
    n_train, n_heldout = labelled.rebuild()
    print(json.dumps({"train": n_train, "heldout": n_heldout}))


def cmd_crossval(argv: list[str]) -> None:
    """Print leave-one-writer-out and random-split scores of every mode on the shipped corpus (one JSON object)."""
    p = argparse.ArgumentParser(prog="python -m services.triage crossval")
    p.add_argument("--writers", default=None, help="comma-separated writers to hold out (default: every writer)")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--extra", type=Path, action="append", default=[],
                   help="a writer's JSONL outside the corpus: graded, never trained on")  # fmt: skip
    p.add_argument("--jobs", type=int, default=1, help="fit the folds in this many processes")
    p.add_argument("--no-random", action="store_true", help="skip the random row split")
    args = p.parse_args(argv)
    rows = labelled.read_corpus()
    extra = [r for path in args.extra for r in labelled.read_writer(path)]
    held = {r["writer"] for r in extra}  # a writer given as --extra is never trained on, even if in the corpus
    rows = [r for r in rows if r["writer"] not in held]
    writers = args.writers.split(",") if args.writers else None
    out = crossval.crossval(rows, writers=writers, extra=extra, jobs=args.jobs, random=not args.no_random)
    text = json.dumps(out, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


def cmd_cluster_eval(argv: list[str]) -> None:
    """Print precision and recall of the clustering wording rule on the rewrite pairs (one JSON object)."""
    argparse.ArgumentParser(prog="python -m services.triage cluster-eval").parse_args(argv)
    from services.triage import cluster_eval

    print(json.dumps(cluster_eval.evaluate(), ensure_ascii=False))


COMMANDS = {
    "cluster-eval": cmd_cluster_eval,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "export-regrades": cmd_export,
    "corpus": cmd_corpus,
    "crossval": cmd_crossval,
}
