"""`python -m services.contracts export|check`: write or verify docs/contracts (run from the repo root)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.contracts.asyncapi import export, stale_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.contracts", description=__doc__)
    parser.add_argument("command", choices=("export", "check"))
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: cwd)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()

    if args.command == "export":
        changed = export(root)
        for path in changed:
            print(f"wrote {path.relative_to(root)}" if path.exists() else f"removed {path.relative_to(root)}")
        if not changed:
            print("docs/contracts is up to date")
        return 0

    stale = stale_files(root)
    if stale:
        print("docs/contracts is stale; run `python -m services.contracts export`:", file=sys.stderr)
        for path in stale:
            print(f"  {path.relative_to(root)}", file=sys.stderr)
        return 1
    print("docs/contracts is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
