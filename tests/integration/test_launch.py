"""`make run`'s launcher refuses to start, naming the missing piece, when RabbitMQ or Redis is unreachable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.platform import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HALL_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}, "RabbitMQ"),
        ({"HALL_REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis"),
    ],
)
def test_launcher_names_what_is_missing(tmp_path, env, named):
    out = subprocess.run(
        [sys.executable, "-m", "services.runtime.launch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HALL_VAR_DIR": str(tmp_path), **env},
    )
    assert out.returncode == 2
    assert named in out.stderr and "Start it" in out.stderr, out.stderr
