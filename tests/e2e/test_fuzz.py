"""Property-based fuzzing of every service's OpenAPI document (schemathesis): no 5xx, every response true to
its own schema. Bounded by HALL_FUZZ_EXAMPLES examples per operation (default 15)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")


@pytest.mark.parametrize("role", ["county_operator", "party_org"])
def test_no_server_error_and_responses_match_their_schema(platform, role):
    p = platform
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    token = p.token(role, ("*",) if role == "county_operator" else ("jinshan",))
    examples = os.environ.get("HALL_FUZZ_EXAMPLES", "15")
    failures = []
    for service in SERVICES:
        out = subprocess.run(
            [
                st,
                "run",
                p.url(service, "/openapi.json"),
                "-H",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                examples,
                "--phases",
                "examples,fuzzing",
                "--no-color",
                "--seed",
                "20261130",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode != 0:
            failures.append(f"--- {service} ---\n{out.stdout[-4000:]}\n{out.stderr[-1000:]}")
    assert not failures, "\n".join(failures)
