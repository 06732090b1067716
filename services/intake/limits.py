"""Intake's rate limits (per API key, per reporter, per IP) on top of the generic Redis limiter."""

from __future__ import annotations

from fastapi import Request

from services.runtime.problems import Problem
from services.runtime.ratelimit import Decision, RateLimiter
from services.runtime.service import Context


def limiter(ctx: Context) -> RateLimiter:
    """The limiter of this process (Redis from the service context)."""
    rl = ctx.extras.get("ratelimiter")
    if rl is None:
        rl = ctx.extras["ratelimiter"] = RateLimiter(
            ctx.redis, service=ctx.service, prefix=ctx.settings.ratelimit_prefix
        )
    return rl


def client_ip(request: Request) -> str:
    """The caller's address as the server sees it (a proxy in front must set the real one)."""
    return request.client.host if request.client else "unknown"


async def check(ctx: Context, bucket: str, key: str, limit: int) -> Decision:
    """Count a hit in `bucket` for `key` within the configured window."""
    return await limiter(ctx).hit(bucket, key, limit=limit, window_s=ctx.settings.ratelimit_window_s)


async def enforce(ctx: Context, bucket: str, key: str, limit: int) -> None:
    """Count a hit; 429 problem+json with Retry-After when over the limit."""
    d = await check(ctx, bucket, key, limit)
    if not d.allowed:
        raise Problem(
            429,
            f"请求过于频繁，请 {d.retry_after} 秒后再试",
            f"Too many requests; retry after {d.retry_after} s",
            headers={"Retry-After": str(d.retry_after), "RateLimit-Limit": str(d.limit), "RateLimit-Remaining": "0"},
            extra={"retry_after": d.retry_after},
        )
