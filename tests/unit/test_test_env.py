"""`make test` sets up what it needs on a fresh machine (tools/test_env.sh): Chromium and CJK fonts come from
Debian when missing, and nothing is installed when they are present. The machine's commands are replaced by
recording stand-ins on PATH, so the script's decisions are checked without installing anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "test_env.sh"


def machine(tmp_path: Path, *, chromium: bool, fonts: bool, root: bool = True) -> tuple[dict, Path]:
    """A PATH whose commands record their calls; the servers answer as running."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    record = f'echo "$(basename "$0") $*" >> {calls}\n'
    stubs = {
        "rabbitmqctl": record,
        "redis-cli": record,
        "pg_isready": record,
        "apt-get": record,
        "sudo": record + 'exec "$@"\n',
        "fc-list": record + ("echo 'WenQuanYi Zen Hei:style=Regular'\n" if fonts else ""),
        "id": f"echo {0 if root else 1000}\n",
    }
    if chromium:
        stubs["chromium"] = record
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    for tool in ("grep", "awk", "sleep", "basename", "cat", "timeout"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, calls


def run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_missing_browser_and_fonts_are_installed_from_debian(tmp_path):
    env, calls = machine(tmp_path, chromium=False, fonts=False)
    out = run(env)
    assert out.returncode == 0, out.stderr
    log = calls.read_text().splitlines()
    assert "apt-get update -q" in log
    assert "apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium fonts-wqy-zenhei" in log


def test_a_non_root_developer_installs_through_sudo(tmp_path):
    env, calls = machine(tmp_path, chromium=False, fonts=True, root=False)
    assert run(env).returncode == 0
    log = calls.read_text().splitlines()
    assert "sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium" in log


def test_nothing_is_installed_when_everything_is_there(tmp_path):
    env, calls = machine(tmp_path, chromium=True, fonts=True)
    out = run(env)
    assert out.returncode == 0, out.stderr
    assert not any(line.startswith("apt-get") for line in calls.read_text().splitlines())
    assert "RabbitMQ already running" in out.stdout and "PostgreSQL is ready" in out.stdout
