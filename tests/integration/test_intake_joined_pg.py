"""On PostgreSQL: a report joining a matter already under way takes the matter's status at once."""

from __future__ import annotations

import pytest

from tests.support import intake_pg_store
from tests.unit.test_intake_joined import joined_report_takes_the_matters_status

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(tmp_path, monkeypatch):
    async with intake_pg_store(tmp_path, monkeypatch, "intake_joined") as s:
        yield s


async def test_a_report_joining_an_assigned_matter_shows_its_status_on_postgres(store):
    await joined_report_takes_the_matters_status(store)
