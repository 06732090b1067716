"""The ledger's own settings: deadlines per level (办结时限) and the warning window, from LEDGER_* variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.ledger.domain import DeadlinePolicy

_DEFAULT = DeadlinePolicy()


class LedgerSettings(BaseSettings):
    """LEDGER_RED_COMPLETE_WORKDAYS=3, LEDGER_YELLOW_COMPLETE_WORKDAYS=15, ... (defaults from practice)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    red_first_action_hours: int = Field(_DEFAULT.red_first_action_hours, ge=1, le=72)
    red_complete_workdays: int = Field(_DEFAULT.red_complete_workdays, ge=1, le=60)
    yellow_complete_workdays: int = Field(_DEFAULT.yellow_complete_workdays, ge=1, le=120)
    green_complete_workdays: int = Field(_DEFAULT.green_complete_workdays, ge=1, le=120)
    warn_workdays_before: int = Field(_DEFAULT.warn_workdays_before, ge=0, le=20)


@lru_cache
def deadline_policy() -> DeadlinePolicy:
    """The process's deadline policy (cached; tests clear the cache after changing the environment)."""
    return DeadlinePolicy(**LedgerSettings().model_dump())
