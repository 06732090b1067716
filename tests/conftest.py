"""Fixtures shared by every tier: an isolated RabbitMQ vhost, a private var dir, clean settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from urllib.parse import quote

import pytest

from services.runtime.directory import clear_cache
from services.runtime.settings import get_settings

AMQP_BASE = os.environ.get("HALL_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (the tests run on the broker's machine, as DESIGN.md §7 says)."""
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def vhost() -> str:
    """A fresh RabbitMQ vhost for one test, deleted afterwards; yields its AMQP URL."""
    name = f"hall-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"{AMQP_BASE}/{quote(name, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", name)


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
