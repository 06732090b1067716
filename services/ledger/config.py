"""The ledger's deadline policy (办结时限 per level and the warning window) from the LEDGER_* settings."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from services.ledger.domain import DeadlinePolicy
from services.runtime.settings import get_settings


@lru_cache
def deadline_policy() -> DeadlinePolicy:
    """The process's deadline policy (cached; tests clear this and get_settings after changing the environment)."""
    given = {k: v for k, v in get_settings().ledger.model_dump().items() if v is not None}
    return replace(DeadlinePolicy(), **given)
