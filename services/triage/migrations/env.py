"""Alembic environment of the triage service."""

from services.runtime.migrate import run_env
from services.triage.models import metadata

run_env(metadata)
