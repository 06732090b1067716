"""Malformed, oversized and hostile bodies get problem+json errors, never a 5xx, and store nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

WRITES = [
    ("intake", "/v1/reports"),
    ("intake", "/v1/hotline-orders"),
    ("triage", "/v1/preview"),
    ("ledger", "/v1/disclosures"),
    ("meeting", "/v1/sessions"),
]


def _count(p) -> int:
    return len(p.get("intake", "/v1/reports", params={"limit": 500}).json()["items"])


def test_hostile_bodies(platform):
    p = platform
    auth = p.headers("party_org", ("jinshan",))  # a role allowed every write walked here
    before = _count(p)
    deep = "[" * 5000 + "]" * 5000
    bodies = {
        "deep JSON": (deep.encode(), "application/json"),
        "huge string": (b'{"community":"jinshan","text":"' + "楼".encode() * 700_000 + b'"}', "application/json"),
        "not UTF-8": ('{"community":"jinshan","text":"路灯坏了"}'.encode("gb18030"), "application/json"),
        "not JSON": (b"community=jinshan&text=x", "application/json"),
        "wrong type": (b'{"community":["jinshan"],"text":{"a":1}}', "application/json"),
        "null bytes": (b'{"community":"jinshan\\u0000","text":"\\u0000"}', "application/json"),
    }
    for service, path in WRITES:
        for why, (body, ctype) in bodies.items():
            r = p.http.post(p.url(service, path), content=body, headers={**auth, "Content-Type": ctype})
            assert r.status_code in (400, 413, 415, 422), f"{service}{path} {why}: {r.status_code} {r.text[:200]}"
            assert r.headers["content-type"].startswith("application/problem+json"), f"{service}{path} {why}"
            assert r.json()["detail_en"] and r.json()["detail"], "Chinese and English messages"
    assert _count(p) == before, "a rejected body stored something"
    # A NUL (or any C0 control but tab/newline/CR) in an otherwise valid staff report: 422 naming the field.
    for field, value in (("text", "路灯\x00不亮"), ("text", "路灯不亮\x1b[2J"), ("name", "王\x07")):
        r = p.http.post(p.url("intake", "/v1/reports"), json={"community": "jinshan", "text": "路灯不亮", field: value},
                        headers=auth)  # fmt: skip
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (value, r.status_code, r.text[:200])
    assert _count(p) == before, "a report with control characters was stored"

    # Injection attempts are just text: stored verbatim, returned as JSON, the store still works.
    for text in (
        "'; DROP TABLE report; -- 路灯坏了",
        "<script>alert('物业')</script>楼道灯不亮",
        "${jndi:ldap://x} 井盖丢了",
    ):
        r = p.post("intake", "/v1/reports", {"community": "jinshan", "text": text})
        assert r.status_code == 201, r.text
        got = p.get("intake", f"/v1/reports/{r.json()['report_id']}").json()
        assert got["text"] == text
    assert _count(p) == before + 3
