"""Key rotation for personal data at rest: re-encrypt every encrypted column under the newest key."""

from __future__ import annotations

from sqlmodel import select

from services.intake.models import Report
from services.runtime.db import Database
from services.runtime.privacy import Vault

ENCRYPTED = ("text_raw_enc", "room_enc", "reporter_name_enc", "reporter_phone_enc")


async def rotate_all(db: Database, vault: Vault, *, batch: int = 500) -> int:
    """Re-encrypt every report's personal data with the vault's newest key; return how many rows changed.

    Batches commit separately, so a rotation interrupted half-way is simply run again: rows already under
    the newest key are rotated again harmlessly (MultiFernet decrypts with any listed key).
    """
    done, last_id = 0, ""
    while True:
        async with db.session() as s:
            rows = (await s.exec(select(Report).where(Report.id > last_id).order_by(Report.id).limit(batch))).all()
            if not rows:
                return done
            for r in rows:
                for col in ENCRYPTED:
                    setattr(r, col, vault.rotate(getattr(r, col)))
            last_id = rows[-1].id
            done += len(rows)
            await s.commit()
