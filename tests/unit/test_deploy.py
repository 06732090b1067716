"""The deployment files agree with the code: every service is there, scalable, health-checked, and
points at a database that postgres-init.sql creates."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")
PORTS = {"intake": 8001, "triage": 8002, "meeting": 8003, "ledger": 8004, "feedback": 8005}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def created_databases() -> set[str]:
    sql = (DEPLOY / "postgres-init.sql").read_text(encoding="utf-8")
    return {m.lower() for m in re.findall(r"CREATE\s+DATABASE\s+\"?(\w+)\"?", sql, re.IGNORECASE)}


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_infrastructure_present(compose):
    services = compose["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.1")  # 3.10+ for quorum queue features
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("rabbitmq", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    mounts = " ".join(services["postgres"]["volumes"])
    assert "postgres-init.sql:/docker-entrypoint-initdb.d/" in mounts


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_and_module(compose, name):
    service = compose["services"][name]
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert (ROOT / "services" / name / "__main__.py").is_file(), f"services/{name}/__main__.py missing"


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_scalable(compose, name):
    service = compose["services"][name]
    # A fixed host port would make `docker compose up --scale <name>=3` fail on the second replica.
    assert "ports" not in service, f"{name} publishes host ports; use expose"
    assert "container_name" not in service, f"{name} has a fixed container name"
    assert str(PORTS[name]) in [str(p) for p in service.get("expose", [])]


@pytest.mark.parametrize("name", SERVICES)
def test_service_health_and_dependencies(compose, name):
    service = compose["services"][name]
    test = " ".join(service["healthcheck"]["test"])
    assert "/healthz" in test and f":{PORTS[name]}/" in test
    depends = service["depends_on"]
    assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert all(dep["condition"] == "service_healthy" for dep in depends.values())
    assert service.get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", SERVICES)
def test_service_environment(compose, name):
    env = env_of(compose["services"][name])
    assert env["HALL_HOST"] == "0.0.0.0"
    assert env[f"{name.upper()}_PORT"] == str(PORTS[name])
    keys = ("HALL_REDIS_URL", "HALL_DIRECTORY", "HALL_ENV", "HALL_PII_KEY", "HALL_SIGNING_SECRET")
    for key in (f"{name.upper()}_AMQP_URL", *keys):
        assert key in env, f"{name}: {key} missing"
    # Its own broker user (deploy/rabbitmq/definitions.json), never a shared one.
    assert env[f"{name.upper()}_AMQP_URL"].startswith(f"amqp://{name}:")
    assert "@rabbitmq:" in env[f"{name.upper()}_AMQP_URL"] and "HALL_AMQP_URL" not in env
    assert env["HALL_REDIS_URL"].startswith("redis://redis:")


def test_console_service(compose):
    """The console: its own command and port, health-checked, scalable, pointed at the five services."""
    console = compose["services"]["console"]
    assert console["command"] == ["python", "-m", "services.console"]
    assert "ports" not in console and "container_name" not in console
    assert "8000" in [str(p) for p in console.get("expose", [])]
    probe = " ".join(console["healthcheck"]["test"])
    assert "/healthz" in probe and ":8000/" in probe
    env = env_of(console)
    assert env["CONSOLE_PORT"] == "8000" and "CONSOLE_INTAKE_API_KEY" in env
    for name in SERVICES:
        assert env[f"{name.upper()}_URL"] == f"http://{name}:{PORTS[name]}"
        assert console["depends_on"][name]["condition"] == "service_healthy"
    assert not any(k.endswith("_DATABASE_URL") for k in env), "the console holds no data"


def test_database_urls_point_at_created_databases(compose, created_databases):
    assert created_databases >= set(SERVICES)
    seen = {}
    for name, service in compose["services"].items():
        for key, value in env_of(service).items():
            if key.endswith("_DATABASE_URL"):
                assert value.startswith("postgresql+asyncpg://"), f"{name}.{key}"
                assert "@postgres:5432/" in value, f"{name}.{key}"
                database = value.rsplit("/", 1)[1].split("?", 1)[0]
                assert database in created_databases, f"{name}.{key}: database {database!r} not created"
                seen[name] = database
    # Each service owns its own database.
    assert seen == {name: name for name in SERVICES}


def test_dockerfile_basics():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in text
    assert re.search(r"^USER\s+(?!root\b)\S+", text, re.MULTILINE), "must run as a non-root user"
    for path in ("pyproject.toml", "services", "deploy"):
        assert re.search(rf"^COPY\s+{re.escape(path)}\b", text, re.MULTILINE), path


def test_ci_script_is_executable_bash():
    script = ROOT / ".ci" / "run"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    assert "make test" in text
    assert os.stat(script).st_mode & stat.S_IXUSR


def test_broker_users_come_from_the_definitions_file(compose):
    """RabbitMQ loads deploy/rabbitmq/definitions.json (fresh from the code) and has no default superuser."""
    from tools.broker_definitions import OUT, main

    rabbit = compose["services"]["rabbitmq"]
    assert not any(k.startswith("RABBITMQ_DEFAULT_") for k in env_of(rabbit))
    mounts = " ".join(rabbit["volumes"])
    assert "./rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/" in mounts
    assert "rabbitmq/definitions.json}:/etc/rabbitmq/definitions.json" in mounts
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    assert re.search(r"^load_definitions\s*=\s*/etc/rabbitmq/definitions\.json$", conf, re.MULTILINE)
    assert main(["--check"]) == 0, "run python -m tools.broker_definitions"
    users = {u["name"] for u in json.loads(OUT.read_text(encoding="utf-8"))["users"]}
    for name in (*SERVICES, "console"):
        assert f"{name.upper()}_AMQP_URL" in env_of(compose["services"][name])
        assert name in users
    assert "adapter" in users
