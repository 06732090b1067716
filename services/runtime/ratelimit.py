"""Fixed-window rate limits in Redis (one Lua call per hit); when Redis is down, allow and count it."""

from __future__ import annotations

import contextvars
import hashlib
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.runtime import metrics

log = logging.getLogger(__name__)

# INCR the window's counter; the first hit sets the expiry. Returns (count, milliseconds left in the window).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed, how many remain in the window, seconds until it resets."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    degraded: bool = False  # True when Redis was unreachable and the hit was allowed without counting
    window_s: int = 0

    def headers(self) -> dict[str, str]:
        """IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for this decision."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.retry_after),
            "RateLimit-Policy": f"{self.limit};w={self.window_s}",
        }


# The decisions taken while serving the current request (a list set by RateLimitHeaders, appended to by hit()).
_DECISIONS: contextvars.ContextVar[list[Decision] | None] = contextvars.ContextVar("ratelimit_decisions", default=None)
HEADER_NAMES = frozenset(h.lower() for h in Decision(True, 0, 0, 0).headers())


class RateLimitHeaders:
    """ASGI middleware: a response of a rate-limited endpoint carries the RateLimit-* fields of its tightest limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        decisions: list[Decision] = []  # one list shared with hit(), whatever context copies happen below
        token = _DECISIONS.set(decisions)

        async def sending(message):
            if message["type"] == "http.response.start" and decisions:
                tightest = min(decisions, key=lambda d: (d.remaining, -d.retry_after))
                kept = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in HEADER_NAMES]
                added = [(k.lower().encode(), v.encode()) for k, v in tightest.headers().items()]
                message = {**message, "headers": kept + added}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _DECISIONS.reset(token)


class RateLimiter:
    """Counts hits per (bucket, key) in fixed windows; keys are hashed so no personal data lands in Redis."""

    def __init__(self, redis: aioredis.Redis, *, service: str, prefix: str = "hall:rl"):
        self.redis, self.service, self.prefix = redis, service, prefix

    def _key(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self.prefix}:{self.service}:{bucket}:{digest}"

    async def peek(self, bucket: str, key: str, *, limit: int) -> Decision:
        """Whether one more hit would be allowed, without counting it. Redis down: allow."""
        if limit <= 0:
            return Decision(True, limit, 0, 0)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self._key(bucket, key))
                pipe.pttl(self._key(bucket, key))
                count, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            metrics.REDIS_DOWN.labels(self.service, "ratelimit").inc()
            log.warning("ratelimit.redis_unavailable bucket=%s: allowing (%s)", bucket, type(exc).__name__)
            return Decision(True, limit, limit, 0, degraded=True)
        count = int(count or 0)
        retry_after = max(1, -(-int(ttl_ms) // 1000)) if int(ttl_ms) > 0 else 1
        return Decision(count < limit, limit, max(0, limit - count), retry_after)

    async def hit(self, bucket: str, key: str, *, limit: int, window_s: int) -> Decision:
        """Count one hit; refuse when the window already holds `limit` hits. Redis down: allow."""
        if limit <= 0:
            return Decision(True, limit, 0, 0)
        try:
            count, ttl_ms = await self.redis.eval(_HIT, 1, self._key(bucket, key), int(window_s * 1000))
        except (RedisError, OSError) as exc:
            # Never lose a resident's report because the limiter's store is away.
            metrics.REDIS_DOWN.labels(self.service, "ratelimit").inc()
            log.warning("ratelimit.redis_unavailable bucket=%s: allowing (%s)", bucket, type(exc).__name__)
            return Decision(True, limit, limit, 0, degraded=True)
        count, ttl_ms = int(count), int(ttl_ms)
        retry_after = max(1, -(-ttl_ms // 1000))
        decision = Decision(count <= limit, limit, max(0, limit - count), retry_after, window_s=window_s)
        if (taken := _DECISIONS.get()) is not None:
            taken.append(decision)  # RateLimit-* on this request's response
        return decision
