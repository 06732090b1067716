"""The house rules that keep services independent, checked on every test run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")
SHARED = ("contracts", "runtime")
ROOM = ("__init__.py", "__main__.py", "app.py", "api.py", "handlers.py", "domain.py", "models.py")
# Services with no tables of their own (the console: pages and a gateway over the others' APIs). They
# follow the import rule but have no domain.py/models.py/migrations; the test below proves they have no tables.
STATELESS = ("console",)


def test_import_contracts_hold():
    """import-linter: services are independent; shared packages never import a service."""
    # In a subprocess: import-linter reconfigures logging, which would leak into other tests.
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("service", (*SERVICES, *STATELESS))
def test_no_service_imports_another(service):
    """A direct AST scan too, so the rule holds even for imports inside functions."""
    for path in (ROOT / "services" / service).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1:
                    assert parts[1] in (service, *SHARED), f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_room(service):
    """Each service is one folder with the same few files and its own migrations."""
    folder = ROOT / "services" / service
    missing = [f for f in ROOM if not (folder / f).exists()]
    assert not missing, f"services/{service} lacks {missing}"
    assert list((folder / "migrations" / "versions").glob("*.py")), f"services/{service} has no migration"


@pytest.mark.parametrize("service", STATELESS)
def test_stateless_services_hold_no_tables(service):
    """A service excused from models.py and migrations must not define tables or open a database."""
    folder = ROOT / "services" / service
    assert (folder / "__init__.py").exists() and (folder / "__main__.py").exists() and (folder / "app.py").exists()
    assert not (folder / "models.py").exists() and not (folder / "migrations").exists()
    for path in folder.rglob("*.py"):
        text = path.read_text()
        for marker in ("table=True", "MetaData(", "Database(", "database_url("):
            assert marker not in text, f"{path.relative_to(ROOT)} uses {marker}"


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "services").rglob("*.py") if "migrations" not in p.parts))
def test_modules_stay_small(path):
    """Split by concept before a module grows into a dump."""
    lines = len(path.read_text().splitlines())
    assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines"
