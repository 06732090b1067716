"""`python -m bench.profiling`: where each service spends its CPU in the saturated pipeline (cProfile, in process).

Runs the platform with bench/profile on PYTHONPATH, posts `--warmup` reports, starts a fresh cProfile in every
service process (SIGUSR1), posts `--reports` more as the benchmark's saturated run does, writes the profiles
(SIGUSR2) and prints, per service, the functions with the most own time and the most cumulative time.
cProfile slows call-heavy code about twofold: read shares, not milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import signal
import sys
import tempfile
from pathlib import Path

from bench.common import private_vhost
from bench.pipeline import Pipeline
from tests.e2e.platform import SERVICES

HOOK = Path(__file__).resolve().parent / "profile"


def report(folder: Path, service: str, top: int) -> str:
    """The service's profile as text: by own time, then by cumulative time."""
    files = [str(f) for f in folder.glob(f"{service}-*.prof")]
    if not files:
        return f"{service}: no profile\n"
    out = io.StringIO()
    st = pstats.Stats(*files, stream=out)
    st.strip_dirs()
    out.write(f"===== {service}: by own time\n")
    st.sort_stats("tottime").print_stats(top)
    out.write(f"===== {service}: by cumulative time\n")
    st.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def keep(folder: Path, to: str) -> None:
    """Copy the .prof files (for pstats or snakeviz later)."""
    Path(to).mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.prof"):
        (Path(to) / f.name).write_bytes(f.read_bytes())


async def main(argv: list[str] | None = None) -> None:
    """Profile the saturated SQLite pipeline; print the profiles; keep the .prof files if asked."""
    ap = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--services", default="intake,ledger,triage,meeting,feedback")
    ap.add_argument("--keep", help="copy the .prof files to this folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, private_vhost("profiling") as url:
        folder = Path(tmp) / "prof"
        folder.mkdir()
        env = {"HALL_PROFILE_DIR": str(folder), "PYTHONPATH": os.pathsep.join([str(HOOK), str(HOOK.parents[1])])}
        async with Pipeline(Path(tmp) / "platform", url, env=env) as pl:
            await pl.saturate(args.warmup)
            await pl.drained()
            pids = [pl.p.pid(s) for s in SERVICES]
            for pid in pids:
                os.kill(pid, signal.SIGUSR1)
            sat = await pl.saturate(args.reports)
            await pl.drained()
            for pid in pids:
                os.kill(pid, signal.SIGUSR2)
            await asyncio.sleep(2)
            print(f"saturated: {sat}", file=sys.stderr)
            for s in args.services.split(","):
                print(report(folder, s, args.top))
            if args.keep:
                keep(folder, args.keep)


if __name__ == "__main__":
    asyncio.run(main())
