"""`python -m services.intake` serves intake; `... apikey create --name N --channel C --community X` makes a key;
`... audit verify [--community X]` checks the reveal audit chains (exit 1 when one is broken)."""

import argparse
import asyncio

from services.intake.app import spec
from services.runtime.service import main


def apikey(argv: list[str]) -> None:
    """Create a hashed adapter API key and print it once."""
    from services.intake.api import store_api_key
    from services.runtime.db import Database
    from services.runtime.migrate import upgrade
    from services.runtime.settings import get_settings

    p = argparse.ArgumentParser(prog="python -m services.intake apikey")
    p.add_argument("action", choices=["create"])
    p.add_argument("--name", required=True)
    p.add_argument("--channel", action="append", required=True)
    p.add_argument("--community", action="append", required=True)
    args = p.parse_args(argv)

    async def run() -> None:
        db = Database(get_settings().database_url("intake"))
        await upgrade(db, spec().migrations)
        out = await store_api_key(
            db, name=args.name, channels=args.channel, communities=args.community, created_by="cli"
        )
        await db.dispose()
        print(f"id={out.id}\nkey={out.key}")

    asyncio.run(run())


def rotate_keys(argv: list[str]) -> None:
    """Re-encrypt all personal data under the newest key of HALL_PII_KEY (see docs/security.md)."""
    from services.intake.keys import rotate_all
    from services.runtime.db import Database
    from services.runtime.migrate import upgrade
    from services.runtime.privacy import Vault
    from services.runtime.settings import get_settings

    argparse.ArgumentParser(prog="python -m services.intake rotate-keys").parse_args(argv)

    async def run() -> None:
        db = Database(get_settings().database_url("intake"))
        await upgrade(db, spec().migrations)
        n = await rotate_all(db, Vault.from_settings())
        await db.dispose()
        print(f"re-encrypted {n} reports and visits under the newest key; the older keys can now be removed")

    asyncio.run(run())


def audit(argv: list[str]) -> None:
    """Recompute the hash chains of the reveal audit log (docs/security.md, "Calling a resident back")."""
    from services.intake.reveal import verify
    from services.runtime.db import Database
    from services.runtime.migrate import upgrade
    from services.runtime.settings import get_settings

    p = argparse.ArgumentParser(prog="python -m services.intake audit")
    p.add_argument("action", choices=["verify"])
    p.add_argument("--community", action="append", help="only these communities (default: all)")
    args = p.parse_args(argv)

    async def run() -> int:
        db = Database(get_settings().database_url("intake"))
        await upgrade(db, spec().migrations)
        checked, broken = await verify(db, set(args.community) if args.community else None)
        await db.dispose()
        for b in broken:
            print(f"BROKEN {b}")
        print(f"{checked} reveal audit records verified; {len(broken)} broken chain(s)")
        return 1 if broken else 0

    raise SystemExit(asyncio.run(run()))


if __name__ == "__main__":
    main(spec, {"apikey": apikey, "rotate-keys": rotate_keys, "audit": audit})
