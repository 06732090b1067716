"""Public references shared by the services' published surfaces (disclosure, Open311, tracking pages)."""

from __future__ import annotations

import hashlib


def ledger_ref(matter_id: str) -> str:
    """A matter's public ledger reference: 8 hex characters, the tail of its entry id (ent_ + 20 hex of sha256).

    The monthly disclosure lists each matter under it; Open311 requests and tracking pages carry it too, so a
    notice on the board can be matched to a request without publishing ids of people or reports.
    """
    return hashlib.sha256(matter_id.encode()).hexdigest()[12:20]
