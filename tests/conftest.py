"""Fixtures shared by every tier: an isolated RabbitMQ vhost, a private var dir, clean settings."""

from __future__ import annotations

import pytest

from services.runtime.directory import clear_cache
from services.runtime.settings import get_settings
from tests.support import private_vhost


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
