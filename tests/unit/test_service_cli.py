"""Every service's command line takes the shared commands (serve, migrate, dlq): a Kubernetes migration init
container runs `python -m services.<name> migrate` and the launcher `... dlq count`; a process that ignored its
arguments and started serving instead would never finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["intake", "triage", "meeting", "ledger", "feedback"])
def test_unknown_command_is_refused_not_served(name, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HALL_VAR_DIR": str(tmp_path),
        # Were it to serve anyway: no reachable broker, a port of its own, never the developer's.
        "HALL_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/hall-test-nowhere",
        f"{name.upper()}_PORT": "0",
    }
    try:
        out = subprocess.run(
            [sys.executable, "-m", f"services.{name}", "no-such-command"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m services.{name} ignored its command and kept running")
    assert out.returncode != 0
    assert "unknown command 'no-such-command'" in out.stderr
    assert "migrate" in out.stderr and "dlq" in out.stderr
