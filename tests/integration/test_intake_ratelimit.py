"""Rate limits through real Redis: the generic limiter, intake's 429s, and the Redis-down path that never refuses."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from services.intake import service as intake_service
from services.intake.app import create
from services.runtime import metrics
from services.runtime.ratelimit import RateLimiter
from services.runtime.settings import get_settings
from tests.integration.test_intake_api import all_reports, assert_problem, auth, body, db_url  # noqa: F401

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"
CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def redis_down_count(what: str = "ratelimit") -> float:
    return metrics.REDIS_DOWN.labels("intake", what)._value.get()


async def test_fixed_window_counts_and_refuses_then_reports_retry_after():
    r = aioredis.from_url(REDIS)
    rl = RateLimiter(r, service="intake", prefix=f"hall:test:{uuid.uuid4().hex}")
    try:
        got = [await rl.hit("reporter", "13800002031", limit=3, window_s=30) for _ in range(4)]
        assert [d.allowed for d in got] == [True, True, True, False]
        assert [d.remaining for d in got] == [2, 1, 0, 0]
        assert 1 <= got[3].retry_after <= 30 and not any(d.degraded for d in got)
        other = await rl.hit("reporter", "13912345678", limit=3, window_s=30)
        assert other.allowed and other.remaining == 2  # keys are separate
        keys = [k.decode() async for k in r.scan_iter(match=f"{rl.prefix}:*")]
        assert len(keys) == 2 and not any("1380000" in k for k in keys)  # hashed: no phone numbers in Redis
        assert all(0 < ttl <= 30_000 for ttl in [await r.pttl(k) for k in keys])
    finally:
        async for k in r.scan_iter(match=f"{rl.prefix}:*"):
            await r.delete(k)
        await r.aclose()


async def test_redis_down_allows_and_counts():
    r = aioredis.from_url(CLOSED, socket_connect_timeout=0.5, socket_timeout=0.5)
    rl = RateLimiter(r, service="intake", prefix="hall:test:down")
    before = redis_down_count()
    try:
        got = [await rl.hit("reporter", "13800002031", limit=1, window_s=60) for _ in range(3)]
    finally:
        await r.aclose()
    assert all(d.allowed and d.degraded for d in got)
    assert redis_down_count() == before + 3


@pytest.fixture
def limited(hall_env, db_url, monkeypatch):
    """Intake with tiny limits and a private key prefix."""

    def start(**env: str) -> TestClient:
        monkeypatch.setenv("INTAKE_DATABASE_URL", db_url)
        monkeypatch.setenv("HALL_RATELIMIT_PREFIX", f"hall:test:{uuid.uuid4().hex}")
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(intake_service, "_vault", None)
        get_settings.cache_clear()
        return TestClient(create())

    return start


def api_key(c: TestClient) -> dict:
    spec = {"name": "小程序", "channels": ["miniprogram"], "communities": ["xueyuan"]}
    return {"X-API-Key": c.post("/v1/apikeys", json=spec, headers=auth()).json()["key"]}


def test_per_reporter_per_key_and_per_ip_limits_answer_429(limited):
    env = {"HALL_RATELIMIT_PER_REPORTER": "2", "HALL_RATELIMIT_PER_IP": "3", "HALL_RATELIMIT_PER_API_KEY": "20"}
    with limited(**env) as c:
        h, kh = auth(), api_key(c)
        mini = {"channel": "miniprogram"}
        assert c.post("/v1/reports", json=body(**mini), headers=kh).status_code == 201
        sent = c.post("/v1/reports", json=body(text="金泰和庄12号楼电梯坏了", **mini), headers=kh)
        code = sent.json()["tracking_code"]
        r = c.post("/v1/reports", json=body(text="金泰和庄路灯不亮", **mini), headers=kh)
        doc = assert_problem(r, 429)
        assert 1 <= int(r.headers["Retry-After"]) <= 60 and doc["retry_after"] == int(r.headers["Retry-After"])
        other = body(phone="13912345678", name="张伟", text="金泰和庄路灯不亮", **mini)
        assert c.post("/v1/reports", json=other, headers=kh).status_code == 201  # another reporter is not held up
        assert len(all_reports(c)) == 3  # the refused one stored nothing
        # Staff entering a report for the same resident at the counter are never limited by it.
        assert [c.post("/v1/reports", json=body(), headers=h).status_code for _ in range(3)] == [201] * 3

        assert [c.get(f"/v1/track/{code}").status_code for _ in range(4)] == [200, 200, 200, 429]

    with limited(HALL_RATELIMIT_PER_API_KEY="2") as c:
        key = api_key(c)["X-API-Key"]
        sent = [
            c.post(
                "/v1/reports",
                json=body(channel="miniprogram", phone=f"1370000000{i}", name=None, room=None),
                headers={"X-API-Key": key},
            ).status_code
            for i in range(3)
        ]
        assert sent == [201, 201, 429]

    with limited(HALL_RATELIMIT_PER_IP="3") as c:
        form = "api_key=x&jurisdiction_id=xueyuan"
        urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
        codes = [c.post("/open311/v2/requests.json", content=form, headers=urlencoded) for _ in range(4)]
        assert [x.status_code for x in codes] == [403, 403, 403, 429]
        assert codes[3].json() == [{"code": 429, "description": codes[3].json()[0]["description"]}]
        assert codes[3].headers["Retry-After"]


def test_reporter_limit_counts_accepted_reports_only(limited):
    """Ten refused posts carrying someone's phone number do not lock that resident out."""
    with limited(HALL_RATELIMIT_PER_REPORTER="2") as c:
        kh, victim = api_key(c), "13800002031"
        bad = body(channel="miniprogram", phone=victim, compound="没有这个小区")
        assert [c.post("/v1/reports", json=bad, headers=kh).status_code for _ in range(10)] == [422] * 10
        good = [
            c.post("/v1/reports", json=body(channel="miniprogram", phone=victim, text=f"{i}号楼路灯不亮"), headers=kh)
            for i in range(1, 4)
        ]
        assert [r.status_code for r in good] == [201, 201, 429]
        # The same message again is the same report, not a new one: it is answered, and not counted either.
        again = body(channel="miniprogram", phone="13912345678", channel_message_id="mp-again")
        assert [c.post("/v1/reports", json=again, headers=kh).status_code for _ in range(4)] == [201] * 4
        assert len(all_reports(c)) == 3


def test_rate_limited_endpoints_say_how_much_is_left(limited):
    """IETF RateLimit-* fields on every answer of a limited endpoint (the tightest limit), 429 with Retry-After."""
    env = {"HALL_RATELIMIT_PER_IP": "3", "HALL_RATELIMIT_WINDOW_S": "60"}
    with limited(**env) as c:
        answers = [c.get("/v1/track/ABCD2345") for _ in range(4)]
        assert [r.status_code for r in answers] == [404, 404, 404, 429]
        assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
        for r in answers:
            assert r.headers["RateLimit-Limit"] == "3" and r.headers["RateLimit-Policy"] == "3;w=60"
            assert 1 <= int(r.headers["RateLimit-Reset"]) <= 60
            assert len(r.headers.get_list("RateLimit-Limit")) == 1
        assert answers[3].headers["Retry-After"] == answers[3].headers["RateLimit-Reset"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        o311 = c.post("/open311/v2/requests.json", content="api_key=x", headers=form)
        assert o311.headers["RateLimit-Remaining"] == "2"  # its own bucket
        # Routes without a limit carry none.
        assert "RateLimit-Limit" not in c.get("/healthz").headers


def test_redis_down_never_loses_a_report(limited):
    before = redis_down_count()
    with limited(HALL_REDIS_URL=CLOSED, HALL_RATELIMIT_PER_REPORTER="1") as c:
        kh = api_key(c)
        codes = [
            c.post(
                "/v1/reports", json=body(text=f"金泰和庄{i}号楼楼道灯不亮", channel="miniprogram"), headers=kh
            ).status_code
            for i in range(1, 4)
        ]
        assert codes == [201, 201, 201]
        assert len(all_reports(c)) == 3
        assert "hall_redis_unavailable_total" in c.get("/metrics").text
    assert redis_down_count() >= before + 3
