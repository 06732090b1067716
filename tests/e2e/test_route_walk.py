"""Walk every guarded route of every service: no token, bad tokens, and another community's staff all get nothing.
Then walk every public route: whatever it answers carries no name, phone, ID number, room or household reference.

The routes come from the code (tools.authz_doc.collect), so a new route is walked the day it is added; a path
parameter this walker does not know fails the test until someone teaches it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime.authz import MATRIX
from tests.e2e.platform import eventually
from tools.authz_doc import collect

pytestmark = pytest.mark.e2e

A, B = "jinshan", "wenzhuang"
PARTIES = ("party_org", "owners_committee", "property_company", "resident_rep", "partner_unit")
GOOD = {200, 201}
# What the seed's staff wrote, in the forms the probe found slipping through (issue 17, items 1-3).
NOTE = "已为王小明（电话+86 138 1234 5678，身份证110105 19800101 123X）疏通了，住户刘**（电话139****5714）"
SECRETS = ("王小明", "李秀英", "13812345678", "11010519800101123X", "刘**", "139****5714", "hh_")


def _ack_token(p, matter_id: str) -> str:
    """The acknowledgement link of the red matter's alert, as its page carries it (signed with the platform's keys)."""
    import datetime as dt

    from services.ledger.alerts import ACK_PURPOSE, alert_id
    from services.runtime.links import LinkSigner, load_link_keys

    entry = eventually(
        lambda: [e for e in p.get("ledger", "/v1/entries").json()["items"] if e["matter_id"] == matter_id]
    )[0]
    signer = LinkSigner(load_link_keys(p.settings))
    token, _ = signer.issue(
        purpose=ACK_PURPOSE, subject=alert_id(entry["id"], 1), audience="on_call:e2e", ttl=dt.timedelta(hours=1)
    )
    return token


def _seed(p) -> dict:
    """Real objects of community A behind every kind of path id."""
    red = p.post("intake", "/v1/reports", {"community": A, "text": "景湖花园3号楼地下室配电箱冒烟，电线裸露"}).json()
    lamp = p.post("intake", "/v1/reports", {"community": A, "text": "景湖花园11号楼楼道灯不亮了"}).json()
    red_matter = eventually(lambda: p.get("intake", f"/v1/reports/{red['report_id']}").json()["matter_id"])
    lamp_matter = eventually(lambda: p.get("intake", f"/v1/reports/{lamp['report_id']}").json()["matter_id"])
    session = eventually(lambda: p.get("meeting", "/v1/sessions", params={"community": A}).json()["items"])[0]
    entry = eventually(
        lambda: [e for e in p.get("ledger", "/v1/entries").json()["items"] if e["matter_id"] == lamp_matter]
    )[0]
    org = p.headers("party_org", (A,))
    task = p.post("ledger", f"/v1/entries/{entry['id']}/supporting", {"unit": "县供电公司"}, headers=org)
    assert task.status_code in GOOD, task.text
    prop = p.headers("property_company", (A,))
    for action, body in (("start", {"note": "帮李秀英阿姨看了，１３８１２３４５６７８"}), ("complete", {"note": NOTE})):
        r = p.http.post(p.url("ledger", f"/v1/entries/{entry['id']}/actions/{action}"), json=body, headers=prop)
        assert r.status_code == 200, r.text
    revisit = eventually(
        lambda: [v for v in p.get("feedback", "/v1/revisits").json()["items"] if v["matter_id"] == lamp_matter]
    )
    vote = p.post(
        "feedback",
        f"/v1/matters/{red_matter}/owner-votes",
        {
            "community": A,
            "question": "是否同意动用维修资金更换配电箱",
            "item": 5,
            "total_area_m2": 5000,
            "total_owners": 60,
        },
        headers=org,
    )
    assert vote.status_code in GOOD, vote.text
    campaign = p.post(
        "intake",
        "/v1/visit-campaigns",
        {"community": A, "name": "敲响邻里门", "month": dt.date.today().strftime("%Y-%m")},
        headers=org,
    )
    assert campaign.status_code in GOOD, campaign.text
    links = p.post(
        "feedback", f"/v1/matters/{lamp_matter}/questionnaire-links", {"households": ["景湖花园11-1-502"]}, headers=org
    )
    assert links.status_code in GOOD, links.text
    ballots = p.post(
        "feedback",
        f"/v1/owner-votes/{vote.json()['vote_id']}/links",
        {"owners": [{"household": "景湖花园3-1-502", "area_m2": 90}]},
        headers=org,
    )
    assert ballots.status_code in GOOD, ballots.text
    feeds = p.get("meeting", f"/v1/halls/{A}/feeds", headers=org)
    assert feeds.status_code == 200, feeds.text
    p.public_tokens = {
        "/v1/q/": links.json()["links"][0]["path"].rsplit("/", 1)[1],
        "/v1/b/": ballots.json()["links"][0]["path"].rsplit("/", 1)[1],
        "/v1/calendars/participants/": feeds.json()["items"][0]["url"].rsplit("/", 1)[1].removesuffix(".ics"),
        "/open311/v2/tokens/": red["tracking_code"],
        "/v1/acks/": _ack_token(p, red_matter),
    }
    p.lamp_matter = lamp_matter
    return {
        "report_id": red["report_id"],
        "matter_id": red_matter,
        "session_id": session["id"],
        "entry_id": entry["id"],
        "revisit_id": revisit[0]["id"],
        "task_id": task.json()["id"],
        "vote_id": vote.json()["vote_id"],
        "campaign_id": campaign.json()["id"],
        "commitment_id": "cmt_00000000000000000000",  # the entry is checked first: no real promise needed
        "community": A,
        "code": red["tracking_code"],
        "action": "start",
        "name": dt.date.today().strftime("%Y-%m"),
        "month": dt.date.today().strftime("%Y-%m"),
        "proposal_id": "fs_000000000000000000000000",  # refused before it is looked up
        "year": 2031,  # the county's holiday table: only the county enters a year, so every walker is refused
    }


def _headers_for(p, action: str) -> dict:
    roles = MATRIX[action]
    # A county-only action (the holiday table) is tried by a community's party organisation: refused.
    role = "party_org" if "party_org" in roles else next((r for r in roles if r != "county_operator"), "party_org")
    return p.headers(role, (B,))


def _bad_tokens(p) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    base = {
        "iss": "hall-local",
        "aud": "hall",
        "sub": "x",
        "role": "party_org",
        "communities": [A],
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    from services.runtime.auth import builtin_private_key

    own = builtin_private_key(p.settings)
    return {
        "wrong signature": jwt.encode(base, Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "expired": jwt.encode({**base, "exp": now - dt.timedelta(minutes=5)}, own, algorithm="EdDSA"),
        "wrong audience": jwt.encode({**base, "aud": "other"}, own, algorithm="EdDSA"),
        "no community": jwt.encode({k: v for k, v in base.items() if k != "communities"}, own, algorithm="EdDSA"),
        # Another algorithm than the deployment's key: once an unauthenticated 500 (and a traceback) per request.
        "RS256": jwt.encode(base, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
        "ES256": jwt.encode(base, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
    }


def test_every_guarded_route_refuses_outsiders(platform):
    p = platform
    ids = _seed(p)
    secrets = [v for k, v in ids.items() if k.endswith("_id")]
    bad = _bad_tokens(p)
    walked = 0
    for route in collect():
        if not route.action:
            continue
        params = re.findall(r"{(\w+)}", route.path)
        unknown = [x for x in params if x not in ids]
        assert not unknown, f"teach the walker {unknown} for {route.path}"
        path = route.path
        for name in params:
            path = path.replace("{" + name + "}", str(ids[name]))
        url = p.url(route.service, path)
        call = getattr(p.http, route.method.lower())
        body = {"json": {"community": A}} if route.method in ("POST", "PATCH") else {}

        r = call(url, **body)
        assert r.status_code == 401, f"{route.method} {route.path} without a token: {r.status_code}"
        for why, token in bad.items():
            r = call(url, headers={"Authorization": f"Bearer {token}"}, **body)
            assert r.status_code == 401, f"{route.method} {route.path} with a {why} token: {r.status_code}"
            assert r.headers["content-type"].startswith("application/problem+json"), f"{route.path} {why}"

        r = call(url, headers=_headers_for(p, route.action.split(",")[0]), **body)
        if params:
            # Another community's object: refused, or (for writes) rejected before anything is read or stored.
            allowed = {403, 404} if route.method == "GET" else {403, 404, 409, 422}
            assert r.status_code in allowed, f"{route.method} {route.path} as {B}: {r.status_code} {r.text[:200]}"
        else:
            assert r.status_code not in GOOD or not any(s in r.text for s in secrets), (
                f"{route.method} {route.path} as {B} leaked {A}'s data: {r.text[:300]}"
            )
        echoed = r.text.replace(path, "")  # problem+json names the requested path; the caller knows it already
        assert r.status_code < 400 or not any(s in echoed for s in secrets), f"{route.path} error leaks an id"
        walked += 1
    assert walked >= 40

    # One page shape for every list, across services (issue 22): a client never meets a bare array.
    county = p.headers()
    lists = 0
    for route in collect():
        params = re.findall(r"{(\w+)}", route.path)
        if route.method != "GET" or any(x not in ids for x in params):
            continue  # Open311's `.{fmt}` routes answer GeoReport v2's own array shape (docs/channels/open311.md)
        path = route.path
        for name in params:
            path = path.replace("{" + name + "}", str(ids[name]))
        r = p.http.get(p.url(route.service, path), headers=county)
        if r.status_code != 200 or not r.headers.get("content-type", "").startswith("application/json"):
            continue
        body = r.json()
        assert not isinstance(body, list), f"GET {route.path} answers a bare list"
        if "items" in body:
            assert set(body) == {"items", "total", "limit", "offset"}, f"GET {route.path}: {sorted(body)}"
            assert body["total"] >= len(body["items"]) and len(body["items"]) <= body["limit"]
            lists += 1
    assert lists >= 9  # reports, matters, review, sessions, queue, feeds, entries, supporting, revisits

    # Nothing of A changed through all of that.
    assert p.get("ledger", f"/v1/entries/{ids['entry_id']}").json()["state"] == "completed"
    assert p.get("triage", f"/v1/matters/{ids['matter_id']}").json()["level"] == "red"
    assert p.get("meeting", f"/v1/sessions/{ids['session_id']}").json()["status"] == "scheduled"
    assert json.dumps(p.get("feedback", f"/v1/matters/{ids['matter_id']}/evaluations").json()).count("household") <= 1

    _walk_public_routes(p, ids)


def _public_values(p, ids: dict, path: str) -> dict[str, list[str]]:
    """Every value a public route's path parameters take: the seed's real objects, both formats."""
    token = next((t for prefix, t in p.public_tokens.items() if path.startswith(prefix)), None)
    matter = p.lamp_matter if path.startswith(("/v1/wechat-votes/", "/v1/votes/")) else ids["matter_id"]
    return {
        "code": [ids["code"]],
        "fmt": ["json", "xml"],
        "request_id": [ids["report_id"]],
        "token": [token] if token else [],
        "matter_id": [matter],
    }


def _walk_public_routes(p, ids: dict) -> None:
    """Every public GET, with real ids: no personal data in the answer, masked or not, whatever its status."""
    masked = re.compile(r"\d{3}\*{4}\d{4}|[\u4e00-\u9fff]\*{1,3}|hh_[0-9a-f]{6}")
    walked = 0
    for route in collect():
        if route.action or route.method != "GET":
            continue
        params = re.findall(r"{(\w+)}", route.path)
        values = _public_values(p, ids, route.path)
        unknown = [x for x in params if not values.get(x)]
        assert not unknown, f"teach the public walker {unknown} for {route.path}"
        paths = [route.path]
        for name in params:
            paths = [x.replace("{" + name + "}", v) for x in paths for v in values[name]]
        for path in paths:
            r = p.http.get(p.url(route.service, path))
            assert r.status_code < 500, f"GET {path}: {r.status_code}"
            text = r.text
            flat = re.sub(r"[\s\-.·]", "", unicodedata.normalize("NFKC", text))
            for secret in SECRETS:
                assert secret not in text and secret not in flat, f"public GET {route.path} shows {secret!r}"
            assert not masked.search(text), f"public GET {route.path} shows {masked.search(text).group()!r}"
            walked += 1
    assert walked >= 10
