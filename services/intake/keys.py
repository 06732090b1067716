"""Key rotation for personal data at rest: re-encrypt every encrypted column under the newest key."""

from __future__ import annotations

from sqlmodel import select

from services.intake.models import Report, Visit
from services.runtime.db import Database
from services.runtime.privacy import Vault

ENCRYPTED = ("text_raw_enc", "room_enc", "reporter_name_enc", "reporter_phone_enc")
TABLES = ((Report, ENCRYPTED), (Visit, ("door_enc",)))


async def rotate_all(db: Database, vault: Vault, *, batch: int = 500) -> int:
    """Re-encrypt every report's and visit's personal data with the vault's newest key; return rows changed.

    Batches commit separately, so a rotation interrupted half-way is simply run again: rows already under
    the newest key are rotated again harmlessly (MultiFernet decrypts with any listed key).
    """
    done = 0
    for model, columns in TABLES:
        last_id = ""
        while True:
            async with db.session() as s:
                q = select(model).where(model.id > last_id).order_by(model.id).limit(batch)
                rows = (await s.exec(q)).all()
                if not rows:
                    break
                for r in rows:
                    for col in columns:
                        setattr(r, col, vault.rotate(getattr(r, col)))
                last_id = rows[-1].id
                done += len(rows)
                await s.commit()
    return done
