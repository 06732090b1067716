"""Alembic environment of the ledger service."""

from services.ledger.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
