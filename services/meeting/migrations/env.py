"""Alembic environment of the meeting service."""

from services.meeting.models import metadata
from services.runtime.migrate import run_env

run_env(metadata)
