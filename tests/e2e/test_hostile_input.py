"""Hostile input from outside, against the platform as `make run` starts it (services and console as processes)."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e

PER_IP = 12
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")


@pytest.fixture
def platform(tmp_path, vhost):
    """The platform with a small per-IP budget and no trusted proxy configured (the default)."""
    with Platform(tmp_path, vhost, extra_env={"HALL_RATELIMIT_PER_IP": str(PER_IP)}).running() as p:
        yield p


def test_hostile_input_from_outside(platform):
    p = platform

    # Foreign JWT algorithms on all six processes: 401 problem+json, never a 500 with a traceback.
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": "hall-local", "aud": "hall", "sub": "x", "role": "county_operator", "communities": ["*"],
              "iat": now, "exp": now + dt.timedelta(hours=1)}  # fmt: skip
    forged = [
        jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
        jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
    ]
    guarded = {"intake": "/v1/reports", "triage": "/v1/matters", "meeting": "/v1/sessions",
               "ledger": "/v1/entries", "feedback": "/v1/revisits", "console": "/auth/whoami"}  # fmt: skip
    for service, path in guarded.items():
        for token in forged:
            r = p.http.get(p.url(service, path), headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, f"{service}{path}: {r.status_code} {r.text[:200]}"
            assert r.headers["content-type"].startswith("application/problem+json")

    # Out-of-range dates: 422 problem+json naming the field, on every service that takes one.
    for service, path, field in (
        ("meeting", "/v1/sessions?from=9999-12-31T23:59:59-23:59", "from"),
        ("ledger", "/v1/figures?month=9999-12", "month"),
        ("feedback", "/v1/revisits?due_before=0001-01-01T00:00:00%2B23:59", "due_before"),
    ):
        r = p.http.get(p.url(service, path), headers=p.headers())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, f"{service}{path}: {r.text[:200]}"
    po = p.headers("party_org", ("jinshan",))
    r = p.post("ledger", "/v1/disclosures", {"community": "jinshan", "month": "0001-01"}, headers=po)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month", r.text

    # The anonymous resident form: control characters are refused naming the field, nothing reaches Open311.
    console = p.url("console", "/api/resident/reports")
    sent = {
        "client_id": uuid.uuid4().hex,
        "community": "jinshan",
        "text": "景湖花园路灯\x00不亮\x1b[2J",
        "consent": False,
    }
    r = p.http.post(console, json=sent)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["errors"][0]["field"] == "text"
    sent = {**sent, "client_id": uuid.uuid4().hex, "text": "景湖花园路灯不亮\r\n\t三天了"}
    assert p.http.post(console, json=sent).status_code == 201
    xml = p.http.get(p.url("intake", "/open311/v2/requests.xml"))
    assert xml.status_code == 200 and ET.fromstring(xml.content).tag == "service_requests"

    # X-Forwarded-For from an untrusted caller is ignored: a new address per request does not reset the budget.
    codes = [
        p.http.get(p.url("intake", f"/v1/track/AAAAAAA{i % 10 + 2}"), headers={"X-Forwarded-For": f"198.51.100.{i}"})
        for i in range(PER_IP + 2)
    ]
    assert [r.status_code for r in codes].count(429) >= 2, [r.status_code for r in codes]
    # The Open311 token lookup is the same oracle: it is in the same budget, so it is refused now too.
    assert p.http.get(p.url("intake", "/open311/v2/tokens/AAAAAAA2.json")).status_code == 429
