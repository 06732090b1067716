"""Alembic environment of the feedback service."""

from services.feedback.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
