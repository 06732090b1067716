"""Fixtures shared by every tier: an isolated RabbitMQ vhost, a private var dir, clean settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from services.runtime.directory import clear_cache
from services.runtime.settings import get_settings
from tests.support import DEFAULT_VHOST_USE, install_default_vhost_guard, private_vhost


@pytest.fixture
def vhost() -> str:
    """A fresh RabbitMQ vhost for one test, deleted afterwards; yields its AMQP URL."""
    with private_vhost("hall-test") as url:
        yield url


@pytest.fixture
def hall_env(tmp_path, monkeypatch, vhost):
    """Point every setting at this test's vhost and a private var dir; fast retries."""
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HALL_AMQP_URL", vhost)
    monkeypatch.setenv("HALL_ENV", "test")
    monkeypatch.setenv("HALL_RETRY_DELAYS_MS", "[200, 400]")
    monkeypatch.setenv("HALL_LOG_JSON", "false")
    get_settings.cache_clear()
    clear_cache()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Settings are cached per process; never let one test's environment leak into the next."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# The seed of the county's holiday table (deploy/holidays.yaml; entered years live in the services' databases):
# every test, and every process a test starts, reads a private copy, so a test that writes a seed never changes
# the committed file.
_HOLIDAYS = Path(tempfile.mkdtemp(prefix="hall-test-holidays-")) / "holidays.yaml"
shutil.copy(Path(__file__).resolve().parents[1] / "deploy" / "holidays.yaml", _HOLIDAYS)
os.environ["HALL_HOLIDAYS"] = str(_HOLIDAYS)


# The default vhost belongs to `make run`: a test that reaches it leaves queues and events signed with its own
# key there, which the next `make run` dead-letters as foreign. Connections to it are refused and fail the test.
install_default_vhost_guard()


@pytest.fixture(autouse=True)
def _no_default_vhost():
    """Fail the test that tried to declare or publish anything in the broker's default vhost."""
    DEFAULT_VHOST_USE.clear()
    yield
    used = list(DEFAULT_VHOST_USE)
    DEFAULT_VHOST_USE.clear()
    assert not used, f"connected to the broker's default vhost ({used[0]}): use the `vhost` or `hall_env` fixture"


TIERS = ("unit", "integration", "e2e", "cluster")


def pytest_collection_modifyitems(config, items):
    """Every test belongs to a tier (`make test-unit` and friends select by marker): an unmarked test is an error."""
    unmarked = sorted(
        {item.nodeid.split("::")[0] for item in items if not any(item.get_closest_marker(t) for t in TIERS)}
    )
    if unmarked:
        raise pytest.UsageError("tests without a tier marker (unit, integration, e2e, cluster): " + ", ".join(unmarked))
