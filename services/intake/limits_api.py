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
    """The caller's address: the peer, or what a trusted proxy forwarded (runtime.proxies, HALL_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


async def check(ctx: Context, bucket: str, key: str, limit: int) -> Decision:
    """Count a hit in `bucket` for `key` within the configured window."""
    return await limiter(ctx).hit(bucket, key, limit=limit, window_s=ctx.settings.ratelimit_window_s)


async def enforce(ctx: Context, bucket: str, key: str, limit: int) -> None:
    """Count a hit; 429 problem+json with Retry-After when over the limit."""
    refuse_over(await check(ctx, bucket, key, limit))


async def enforce_spent(ctx: Context, bucket: str, key: str, limit: int) -> None:
    """429 when the window's budget is already spent, without counting this request (count it with `check`)."""
    refuse_over(await limiter(ctx).peek(bucket, key, limit=limit))


def refuse_over(d: Decision) -> None:
    """429 problem+json with Retry-After for a refused decision."""
    if not d.allowed:
        raise Problem(
            429,
            f"请求过于频繁，请 {d.retry_after} 秒后再试",
            f"Too many requests; retry after {d.retry_after} s",
            headers={"Retry-After": str(d.retry_after), "RateLimit-Limit": str(d.limit), "RateLimit-Remaining": "0"},
            extra={"retry_after": d.retry_after},
        )
