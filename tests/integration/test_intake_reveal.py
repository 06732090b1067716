"""Calling a resident back: consent, scope, roles, audit chain and rate limit, through the real app and Redis."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from services.intake import reveal
from services.intake import service as intake_service
from services.runtime.settings import REPO_ROOT, get_settings
from tests.integration.test_intake_api import assert_problem, auth, body, client, db_url  # noqa: F401

pytestmark = pytest.mark.integration

GRID = {"role": "grid_worker", "sub": "u-grid"}


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("INTAKE_REVEAL_PER_HOUR", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def submit(c: TestClient, **over) -> str:
    r = c.post("/v1/reports", json=body(**over), headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["report_id"]


def reveal_of(c: TestClient, report_id: str, reason: str = "callback", **who):
    return c.post(f"/v1/reports/{report_id}/reveal", json={"reason": reason}, headers=auth(**who))


def test_consent_defaults_to_false_and_without_it_nothing_is_revealed(client):
    rid = submit(client)
    assert client.get(f"/v1/reports/{rid}", headers=auth()).json()["callback_consent"] is False
    r = reveal_of(client, rid)
    doc = assert_problem(r, 403)
    assert "未同意" in doc["detail"] and "consent" in doc["detail_en"]
    assert "13800002031" not in r.text
    assert client.get("/v1/reveals", headers=auth()).json()["items"] == []


def test_consenting_reporter_is_revealed_audited_and_the_chain_verifies(client):
    rid = submit(client, callback_consent=True)
    before = dt.datetime.now(dt.UTC)
    r = reveal_of(client, rid, "verify", **GRID)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    out = r.json()
    assert (out["phone"], out["name"], out["reason_label"], out["reason_label_en"]) == (
        "13800002031",
        "刘秀英",
        "核实",
        "Verify",
    )
    expires = dt.datetime.fromisoformat(out["expires_at"])
    assert dt.timedelta(minutes=9) < expires - before <= dt.timedelta(minutes=11)

    assert reveal_of(client, rid, "callback").status_code == 200  # the party organisation too
    log = client.get("/v1/reveals", headers=auth()).json()["items"]
    assert [(e["actor"], e["role"], e["reason"], e["seq"]) for e in log] == [
        ("u-staff", "party_org", "callback", 2),
        ("u-grid", "grid_worker", "verify", 1),
    ]
    assert log[1]["reason_label"] == "核实" and log[1]["report_id"] == rid and log[1]["revealed"] == ["phone", "name"]
    assert "13800002031" not in client.get("/v1/reveals", headers=auth()).text  # never the phone itself
    v = client.get("/v1/reveals/verify", headers=auth()).json()
    assert v == {"ok": True, "checked": 2, "broken": []}


def test_another_communitys_staff_get_404_and_companies_and_county_may_not_reveal(client):
    rid = submit(client, callback_consent=True)
    assert_problem(reveal_of(client, rid, communities=("jinshan",)), 404)
    assert_problem(reveal_of(client, "rpt_missing"), 404)
    assert_problem(reveal_of(client, rid, role="property_company"), 403)
    assert_problem(reveal_of(client, rid, role="county_operator", communities=("*",)), 403)
    assert_problem(reveal_of(client, rid, "curiosity"), 422)
    # The county sees the audit of every community, another community's party org sees none of it.
    assert reveal_of(client, rid).status_code == 200
    county = client.get("/v1/reveals", headers=auth(role="county_operator", communities=("*",), sub="u-c"))
    assert len(county.json()["items"]) == 1 and county.json()["total"] == 1
    assert client.get("/v1/reveals", headers=auth(communities=("jinshan",))).json()["items"] == []
    assert_problem(client.get("/v1/reveals", headers=auth(**GRID)), 403)


def test_no_phone_on_file_is_409(client):
    rid = submit(client, callback_consent=True, phone=None)
    assert_problem(reveal_of(client, rid), 409)


def test_rate_limit_per_staff_member_answers_429_with_retry_after(client):
    rid = submit(client, callback_consent=True)
    codes = [reveal_of(client, rid).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    over = reveal_of(client, rid)
    assert_problem(over, 429)
    assert 1 <= int(over.headers["Retry-After"]) <= 3600
    assert reveal_of(client, rid, **GRID).status_code == 200  # another staff member has their own allowance
    assert client.get("/v1/reveals", headers=auth()).json()["total"] == 4  # refused attempts reveal nothing


def test_tampering_with_an_audit_row_breaks_the_chain(client, db_url):
    rid = submit(client, callback_consent=True)
    for _ in range(3):
        assert reveal_of(client, rid, **GRID).status_code == 200
    path = db_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:  # someone rewrites who did it
        conn.execute("UPDATE reveal_audit SET actor = 'u-someone-else' WHERE seq = 2")
    v = client.get("/v1/reveals/verify", headers=auth()).json()
    assert v["ok"] is False and v["broken"][0]["seq"] == 2 and "altered" in v["broken"][0]["reason"]


def test_deleting_the_last_audit_row_breaks_the_chain_and_the_cli_says_so(client, db_url, hall_env):
    rid = submit(client, callback_consent=True)
    for _ in range(2):
        assert reveal_of(client, rid).status_code == 200
    env = {"INTAKE_DATABASE_URL": db_url, "HALL_VAR_DIR": str(hall_env.var_dir), "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "services.intake", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "2 reveal audit records verified" in ok.stdout
    path = db_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM reveal_audit WHERE seq = 2")
    assert client.get("/v1/reveals/verify", headers=auth()).json()["ok"] is False
    bad = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "xueyuan" in bad.stdout + bad.stderr


async def test_concurrent_reveals_make_one_unbroken_chain_on_postgres():
    import asyncio

    from services.intake.app import spec
    from tests.support import pg_store

    async with pg_store(spec(), "intake_reveal") as store:

        async def one(i: int) -> None:
            async with store.db.session() as s:
                now = dt.datetime.now(dt.UTC)
                await reveal.append(
                    s,
                    community="xueyuan" if i % 3 else "jinshan",
                    at=now,
                    actor=f"u-{i}",
                    role="party_org",
                    report_id=f"rpt_{i}",
                    reason="callback",
                    revealed=["phone"],
                    expires_at=now + dt.timedelta(minutes=10),
                )
                await s.commit()

        await asyncio.gather(*(one(i) for i in range(12)))
        checked, broken = await reveal.verify(store.db)
        assert (checked, broken) == (12, [])


def test_redis_down_refuses_reveals(hall_env, db_url, monkeypatch):
    from services.intake.app import create
    from services.runtime.settings import get_settings

    monkeypatch.setenv("INTAKE_DATABASE_URL", db_url)
    monkeypatch.setenv("HALL_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    with TestClient(create()) as c:
        rid = submit(c, callback_consent=True)
        r = reveal_of(c, rid)
        assert_problem(r, 503)
        assert "13800002031" not in r.text
