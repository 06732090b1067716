"""Every service has the same rooms, and each room imports only what its layer may (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2] / "services"
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")
ROOMS = ("api", "service", "domain", "handlers", "models")
WEB = ("fastapi", "starlette")
IO = ("sqlmodel", "sqlalchemy", "aio_pika", "httpx", "redis", "services.runtime.db", "services.runtime.uow")
HTTP_MAPPING = ("services.runtime.problems", "services.runtime.service.Ctx", "services.runtime.service.get_ctx")


def is_api(path: Path) -> bool:
    """api.py, api_*.py, *_api.py or anything under an api/ package: the HTTP edge."""
    return path.stem == "api" or path.stem.startswith("api_") or path.stem.endswith("_api") or "api" in path.parts


def modules(service: str) -> list[Path]:
    """The service's own modules (migrations are Alembic's)."""
    return [p for p in (ROOT / service).rglob("*.py") if "migrations" not in p.parts]


def imported(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports are not used in this project)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def uses(names: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == r or n.startswith(r + ".") for r in roots))


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service):
    base = ROOT / service
    missing = [r for r in ROOMS if not (base / f"{r}.py").is_file() and not (base / r / "__init__.py").is_file()]
    assert not missing, f"services/{service} lacks {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_only_api_modules_speak_http(service):
    wrong = {
        str(p.relative_to(ROOT)): uses(imported(p), WEB + HTTP_MAPPING)
        for p in modules(service)
        if not is_api(p) and p.stem not in ("app", "__main__")
    }
    assert not {k: v for k, v in wrong.items() if v}, "move these routes or HTTP errors into an api module"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_does_no_io(service):
    path = ROOT / service / "domain.py"
    assert not uses(imported(path), IO + WEB + HTTP_MAPPING), f"services/{service}/domain.py must stay pure"


def test_the_check_can_fail(tmp_path):
    bad = tmp_path / "domain.py"
    bad.write_text("from sqlmodel import select\nfrom fastapi import APIRouter\n")
    assert uses(imported(bad), IO) == ["sqlmodel", "sqlmodel.select"] and uses(imported(bad), WEB)
    assert is_api(Path("x/tier_api.py")) and not is_api(Path("x/planner.py"))
