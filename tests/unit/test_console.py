"""The console's own rules: what the proxy forwards, who may log in how, what live hints carry and to whom."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.config import ConsoleConfig
from services.console.live import SUBSCRIBER_BUFFER, LiveHub, Subscriber, hint_of
from services.console.login import public_directory
from services.console.proxy import check_path
from services.runtime.auth import Principal, mint, verify
from services.runtime.problems import Problem
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


def _client(tmp_path, env: str = "test", **kw) -> TestClient:
    """The app without its lifespan (no broker, no upstream client): routes that need neither."""
    settings = Settings(var_dir=tmp_path, env=env)
    return TestClient(create_app(ConsoleConfig(settings=settings, upstreams={}, **kw)))


@pytest.mark.parametrize(
    "path", ["v1/reports", "v1/matters/mat_1/regrade", "v1/disclosures/x/2026-11.csv", "openapi.json"]
)
def test_proxy_forwards_versioned_api_paths(path):
    check_path(path)


@pytest.mark.parametrize("path", ["metrics", "readyz", "docs", "v1/../metrics", "v1/./x", "v2/x", "", "v1//x"])
def test_proxy_refuses_everything_else(path):
    with pytest.raises(Problem) as exc:
        check_path(path)
    assert exc.value.status == 404


def test_unknown_upstream_is_404(tmp_path):
    assert _client(tmp_path).get("/api/billing/v1/x").status_code == 404


def test_dev_login_mints_a_verifiable_token_in_test(tmp_path):
    c = _client(tmp_path)
    assert c.get("/auth/config").json()["dev_login"] is True
    r = c.post("/auth/dev-login", json={"role": "party_org", "community": "xueyuan", "name": "王书记"})
    assert r.status_code == 200, r.text
    p = verify(r.json()["token"], Settings(var_dir=tmp_path, env="test"))
    assert (p.role, p.communities, p.name) == ("party_org", frozenset({"xueyuan"}), "王书记")
    who = c.get("/auth/whoami", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert who["role"] == "party_org" and who["communities"] == ["xueyuan"]


def test_dev_login_refuses_county_scope_for_staff_and_unknown_communities(tmp_path):
    c = _client(tmp_path)
    assert c.post("/auth/dev-login", json={"role": "party_org", "community": "*"}).status_code == 422
    assert c.post("/auth/dev-login", json={"role": "party_org", "community": "atlantis"}).status_code == 422
    assert c.post("/auth/dev-login", json={"role": "mayor", "community": "xueyuan"}).status_code == 422


def test_no_dev_login_in_production(tmp_path):
    c = _client(tmp_path, env="production", idp_login_url="https://idp.example/authorize")
    assert c.get("/auth/config").json() == {
        "dev_login": False,
        "idp_login_url": "https://idp.example/authorize",
        "env": "production",
    }
    r = c.post("/auth/dev-login", json={"role": "county_operator", "community": "*"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_public_directory_has_names_but_no_people():
    d = public_directory()
    text = json.dumps(d, ensure_ascii=False)
    xueyuan = next(c for c in d["communities"] if c["code"] == "xueyuan")
    assert "金泰和庄" in [p["name"] for p in xueyuan["compounds"]]
    for word in ("roster", "phone", "email", "wecom", "138"):
        assert word not in text


def test_resident_reports_need_the_configured_key(tmp_path):
    r = _client(tmp_path).post(
        "/api/resident/reports", json={"client_id": "abcdefgh-1", "community": "xueyuan", "text": "路灯坏了"}
    )
    assert r.status_code == 503 and "暂未开通" in r.json()["detail"]


def test_events_need_a_token_within_scope(tmp_path):
    c = _client(tmp_path)
    assert c.get("/events").status_code == 401
    assert c.get("/events", params={"access_token": "not-a-token"}).status_code == 401
    token = mint(sub="w", role="party_org", communities=["xueyuan"], settings=Settings(var_dir=tmp_path, env="test"))
    assert c.get("/events", params={"access_token": token, "community": "jinshan"}).status_code == 403


def test_hints_carry_envelope_attributes_only():
    body = json.dumps(
        {
            "id": "e1",
            "type": "report.received.v1",
            "subject": "rep_1",
            "community": "xueyuan",
            "time": "2026-11-30T08:00:00+00:00",
            "source": "/services/intake",
            "data": {"text": "金泰和庄3号楼配电箱冒烟", "reporter_ref": "r1"},
        }
    ).encode()
    assert hint_of(body) == {
        "id": "e1",
        "type": "report.received.v1",
        "subject": "rep_1",
        "community": "xueyuan",
        "time": "2026-11-30T08:00:00+00:00",
    }
    assert hint_of(b"not json") is None and hint_of(b"[1]") is None and hint_of(b'{"type": "x"}') is None


def _hint(community: str, n: int = 1) -> dict:
    return {"id": f"e{n}", "type": "matter.triaged.v1", "subject": "m", "community": community, "time": None}


def test_hints_go_only_to_subscribers_who_may_see_them():
    hub = LiveHub("amqp://unused")
    staff = Subscriber(Principal("a", "party_org", frozenset({"xueyuan"})), None)
    county = Subscriber(Principal("c", "county_operator", frozenset({"*"})), None)
    county_one = Subscriber(Principal("c", "county_operator", frozenset({"*"})), "jinshan")
    hub.subscribers |= {staff, county, county_one}
    hub.publish(_hint("jinshan"))
    hub.publish(_hint("xueyuan", 2))
    assert [staff.queue.get_nowait()["community"] for _ in range(staff.queue.qsize())] == ["xueyuan"]
    assert county.queue.qsize() == 2
    assert [county_one.queue.get_nowait()["community"] for _ in range(county_one.queue.qsize())] == ["jinshan"]


def test_a_slow_subscriber_loses_hints_and_never_blocks():
    hub = LiveHub("amqp://unused")
    sub = Subscriber(Principal("a", "party_org", frozenset({"xueyuan"})), None)
    hub.subscribers.add(sub)
    for n in range(SUBSCRIBER_BUFFER + 5):
        hub.publish(_hint("xueyuan", n))
    assert sub.queue.qsize() == SUBSCRIBER_BUFFER and sub.dropped == 5


def test_stream_sends_frames_and_unsubscribes():
    async def run() -> list[str]:
        hub = LiveHub("amqp://unused")
        principal = Principal("a", "party_org", frozenset({"xueyuan"}))
        gone = asyncio.Event()

        async def disconnected() -> bool:
            return gone.is_set()

        frames = hub.stream(principal, "xueyuan", disconnected)
        out = [await anext(frames)]
        hub.publish(_hint("xueyuan", 7))
        out.append(await anext(frames))
        gone.set()
        with pytest.raises(StopAsyncIteration):
            await anext(frames)
        assert not hub.subscribers
        return out

    first, second = asyncio.run(run())
    assert first.startswith("retry:")
    assert second.startswith("id: e7\nevent: hint\ndata: ") and '"community": "xueyuan"' in second


def test_resident_callback_consent_is_unticked_by_default_and_passed_on():
    from services.console.resident import ResidentReportIn, intake_payload

    base = {"client_id": "abcdefgh-1", "community": "xueyuan", "text": "路灯坏了", "phone": "13800002031"}
    quiet = intake_payload(ResidentReportIn(**base))
    assert quiet["callback_consent"] is False and "phone" not in quiet
    call_me = intake_payload(ResidentReportIn(**base, callback_consent=True))
    assert call_me["callback_consent"] is True and call_me["phone"] == "13800002031"
    contact_only = intake_payload(ResidentReportIn(**base, consent=True))
    assert contact_only["callback_consent"] is False and contact_only["phone"] == "13800002031"


@pytest.mark.parametrize("json_lines", [True, False])
def test_logged_urls_carry_no_link_tokens(capsys, json_lines):
    """The console logs each proxied request (httpx's request line): tokens and codes in those URLs are redacted."""
    import logging

    import httpx

    from services.runtime import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    secrets = ("eyJwIjoxfQ.c2lnbmF0dXJl", "AbC_d-9xQ", "K7PQ2MXA", "eyJhbGciOi.x.y")
    try:
        logs.configure("console", json=json_lines)
        for url in (
            f"http://feedback:8005/v1/q/{secrets[0]}",
            f"http://feedback:8005/v1/b/{secrets[0]}",
            f"http://meeting:8003/v1/calendars/participants/{secrets[1]}.ics",
            f"http://intake:8001/v1/track/{secrets[2]}",
            f"http://intake:8001/open311/v2/tokens/{secrets[2]}.json",
            f"http://console:8000/events?community=xueyuan&access_token={secrets[3]}",
        ):
            # Exactly how httpx logs a request it sent.
            logging.getLogger("httpx").info(
                'HTTP Request: %s %s "%s %d %s"', "GET", httpx.URL(url), "HTTP/1.1", 200, "OK"
            )
        logging.getLogger("services.console").warning("console.upstream_failed url=%s", f"/v1/q/{secrets[0]}")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    out = capsys.readouterr().out
    assert out.count("HTTP Request") == 6 and "/v1/q/***" in out and "participants/***.ics" in out
    assert "community=xueyuan" in out, "only secrets are redacted"
    for secret in secrets:
        assert secret not in out


@pytest.mark.parametrize(
    "path", ["/", "/m", "/m/", "/healthz", "/auth/config", "/api/directory", "/api/billing/v1/x", "/events", "/nope"]
)
def test_every_console_response_carries_the_security_headers(tmp_path, path):
    from services.console.headers import HEADERS

    r = _client(tmp_path).get(path, follow_redirects=False)
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (path, name)
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-eval" not in r.headers["content-security-policy"]


def test_built_pages_need_no_inline_script(tmp_path):
    """script-src 'self' is enough: the pages load only their own bundles, with no inline script or handler."""
    import re

    from services.console.config import STATIC_DIR

    for page in ("index.html", "m.html"):
        html = (STATIC_DIR / page).read_text(encoding="utf-8")
        scripts = re.findall(r"<script\b([^>]*)>", html)
        assert scripts and all('src="/assets/' in attrs for attrs in scripts), page
        assert not re.search(r"\son[a-z]+\s*=", html) and "javascript:" not in html, page
    for asset in (STATIC_DIR / "assets").glob("*.js"):
        assert "new Function(" not in asset.read_text(encoding="utf-8"), asset.name  # no eval: no 'unsafe-eval'
    r = _client(tmp_path).get("/assets/" + next((STATIC_DIR / "assets").glob("*.js")).name)
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"


def _packed_client(tmp_path):
    """A console serving a built page and asset of its own, with the build's brotli and gzip copies."""
    import gzip

    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    js = ("export const words = " + json.dumps(["议事"] * 400) + ";\n").encode()
    (static / "assets" / "app-Ab12.js").write_bytes(js)
    (static / "assets" / "app-Ab12.js.gz").write_bytes(gzip.compress(js))
    (static / "assets" / "app-Ab12.js.br").write_bytes(b"brotli-bytes")  # content is the build's business
    (static / "assets" / "plain-Cd34.css").write_bytes(b"body{margin:0}")
    (static / "index.html").write_bytes(b"<!doctype html><title>x</title>")
    (static / "index.html.gz").write_bytes(gzip.compress(b"<!doctype html><title>x</title>"))
    (static / "m.html").write_bytes(b"<!doctype html>")
    settings = Settings(var_dir=tmp_path, env="test")
    return TestClient(create_app(ConsoleConfig(settings=settings, upstreams={}, static_dir=static))), js


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=1.0, gzip;q=0.8", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("", None),
    ],
)
def test_assets_are_sent_precompressed_when_the_client_accepts_it(tmp_path, accept, coding):
    c, js = _packed_client(tmp_path)
    # httpx would decode the body itself: ask for the raw stream to see what travelled.
    with c.stream("GET", "/assets/app-Ab12.js", headers={"Accept-Encoding": accept}) as r:
        raw = b"".join(r.iter_raw())
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == coding
    assert r.headers["vary"] == "Accept-Encoding"  # caches keep one copy per coding
    assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "immutable" in r.headers["cache-control"]
    assert int(r.headers["content-length"]) == len(raw)
    if coding is None:
        assert raw == js
    elif coding == "gzip":
        import gzip

        assert gzip.decompress(raw) == js and len(raw) < len(js)


def test_pages_are_compressed_too_and_nothing_but_built_assets_is_served(tmp_path):
    c, _ = _packed_client(tmp_path)
    with c.stream("GET", "/", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
        assert r.headers["cache-control"] == "no-cache" and r.headers["content-type"].startswith("text/html")
    plain = c.get("/assets/plain-Cd34.css", headers={"Accept-Encoding": "br, gzip"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers  # no copy: sent as it is
    for bad in ("/assets/app-Ab12.js.br", "/assets/.hidden", "/assets/..%2Findex.html", "/assets/nope.js"):
        assert c.get(bad).status_code == 404, bad
    assert c.head("/assets/app-Ab12.js").status_code == 200
