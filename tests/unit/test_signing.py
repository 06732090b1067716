"""The event-signing secret: generated once in development, never in production."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.runtime import signing
from services.runtime.settings import Settings, get_settings

pytestmark = pytest.mark.unit


def test_production_refuses_to_invent_the_signing_secret(tmp_path):
    with pytest.raises(RuntimeError, match="HALL_SIGNING_SECRET must be set in production"):
        signing.server_secret(Settings(var_dir=tmp_path, env="production"))
    assert not (tmp_path / "secrets").exists(), "nothing may be generated"
    given = Settings(var_dir=tmp_path, env="production", signing_secret="s" * 48)
    assert signing.server_secret(given) == b"s" * 48


def test_development_creates_one_secret_and_keeps_it(tmp_path):
    dev = Settings(var_dir=tmp_path, env="development")
    first = signing.server_secret(dev)
    assert len(first) >= 48 and signing.server_secret(dev) == first


@pytest.mark.parametrize("service", ["intake", "triage", "meeting", "ledger", "feedback"])
def test_a_service_without_the_secret_does_not_start_in_production(tmp_path, monkeypatch, service):
    import importlib

    from services.runtime.service import create_app

    monkeypatch.setenv("HALL_ENV", "production")
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HALL_SIGNING_SECRET", raising=False)
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    get_settings.cache_clear()
    app = create_app(importlib.import_module(f"services.{service}.app").spec())
    with pytest.raises(RuntimeError, match="HALL_SIGNING_SECRET"), TestClient(app):
        pass
    assert not (tmp_path / "secrets").exists()
