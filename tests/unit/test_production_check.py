"""One settings object, one production check that names every missing secret at once."""

from __future__ import annotations

import pytest

from services.console.config import ConsoleConfig
from services.runtime.settings import (
    NEEDS,
    NotReadyForProduction,
    Settings,
    production_problems,
    require_for_production,
)

pytestmark = pytest.mark.unit


def test_production_lists_every_missing_secret(tmp_path):
    problems = production_problems(Settings(var_dir=tmp_path, env="production"))
    assert [p.split(" ")[0] for p in problems] == [n.var for n in NEEDS.values()]
    with pytest.raises(NotReadyForProduction) as err:
        require_for_production(Settings(var_dir=tmp_path, env="production"))
    assert all(n.var in str(err.value) for n in NEEDS.values())


def test_given_secrets_or_existing_files_satisfy_production(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "pii.keys").write_text("k\n")
    s = Settings(
        var_dir=tmp_path,
        env="production",
        signing_secret="s" * 48,
        pseudonym_key="p",
        link_key="l",
        jwt_private_key_file=tmp_path / "jwt.pem",
    )
    assert production_problems(s) == []
    assert production_problems(Settings(var_dir=tmp_path, env="development")) == []


def test_service_variables_keep_their_names(monkeypatch, tmp_path):
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite+aiosqlite:///x.db")
    monkeypatch.setenv("LEDGER_PORT", "9104")
    monkeypatch.setenv("TRIAGE_URL", "http://triage.local:80/")
    monkeypatch.setenv("CONSOLE_IDP_LOGIN_URL", "https://idp.example/login")
    monkeypatch.setenv("INTAKE_PHOTO_DIR", str(tmp_path / "photos"))
    s = Settings(var_dir=tmp_path)
    assert s.database_url("ledger") == "sqlite+aiosqlite:///x.db" and s.port("ledger") == 9104
    assert s.port("meeting") == 8003
    cfg = ConsoleConfig.from_env(s)
    assert cfg.upstreams["triage"] == "http://triage.local:80" and cfg.idp_login_url == "https://idp.example/login"
    assert s.intake.photo_dir == tmp_path / "photos"
