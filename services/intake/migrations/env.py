"""Alembic environment of the intake service."""

from services.intake.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
