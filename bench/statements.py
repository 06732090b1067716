"""`python -m bench.statements`: SQL statements per report, per service, through the real pipeline.

Runs the platform with bench/sqltrace on PYTHONPATH (every service process counts its statements), posts
`--reports` direct reports as in the benchmark's saturated run, waits for their ledger entries, and prints ONE
JSON object: per service, statements per report and the most frequent statements. Counts taken before the
reports (startup, migrations, demo seeding) are subtracted. It measures how much database work a report costs,
not time: the benchmark measures time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import private_vhost
from bench.pipeline import Pipeline, pg_env
from tests.e2e.platform import SERVICES
from tests.support import create_pg_database, drop_pg_database

TRACE = Path(__file__).resolve().parent / "sqltrace"


def counts(folder: Path) -> dict[str, collections.Counter]:
    """The statement counts every service process has written so far, summed per service."""
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for f in folder.glob("*.json"):
        out[f.name.split("-")[0]].update(json.loads(f.read_text()))
    return out


def per_report(before: dict, after: dict, n: int, top: int) -> dict:
    """Statements per report for each service, with its `top` most frequent statements."""
    out = {}
    for service in SERVICES:
        diff = after.get(service, collections.Counter()) - before.get(service, collections.Counter())
        out[service] = {
            "statements_per_report": round(sum(diff.values()) / n, 2),
            "top": {sql: round(k / n, 2) for sql, k in diff.most_common(top)},
        }
    out["total_per_report"] = round(sum(v["statements_per_report"] for v in out.values()), 1)
    return out


async def measure(tmp: Path, url: str, n: int, top: int, env: dict) -> dict:
    """Run the pipeline for n reports with the statement counters on."""
    trace = tmp / "sqltrace"
    trace.mkdir()
    env = {**env, "HALL_SQLTRACE_DIR": str(trace), "PYTHONPATH": os.pathsep.join([str(TRACE), str(TRACE.parents[1])])}
    async with Pipeline(tmp / "platform", url, env=env) as pl:
        await asyncio.sleep(2.5)  # every process has dumped its startup counts
        before = counts(trace)
        sat = await pl.saturate(n)
        await pl.drained()
        await asyncio.sleep(2.5)
        after = counts(trace)
    return {"reports": n, "ledger_entries_seen": sat["ledger_entries_seen"], **per_report(before, after, n, top)}


async def main(argv: list[str] | None = None) -> None:
    """Parse the options, measure on SQLite or PostgreSQL, print the JSON."""
    ap = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=300)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--top", type=int, default=12, help="statements listed per service")
    args = ap.parse_args(argv)
    urls: dict[str, str] = {}
    try:
        if args.db == "postgresql":
            urls = {s: await create_pg_database(f"bench_sql_{s}") for s in SERVICES}
        with tempfile.TemporaryDirectory() as tmp, private_vhost("statements") as url:
            out = await measure(Path(tmp), url, args.reports, args.top, pg_env(urls) if urls else {})
    finally:
        for u in urls.values():
            await drop_pg_database(u)
    json.dump({"db": args.db, **out}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    asyncio.run(main())
