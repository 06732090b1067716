"""Leader election for periodic jobs: a Redis lock with expiry; jobs are idempotent regardless."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.runtime import metrics

log = logging.getLogger(__name__)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


@dataclass
class Periodic:
    """A job run every `interval_s` by at most one replica at a time; `wake` (if set) runs it sooner."""

    name: str
    interval_s: float
    run: Callable[[], Awaitable[None]]
    wake: asyncio.Event | None = None

    async def pause(self) -> None:
        """Wait for the next run: the interval, or less when this process sets `wake`."""
        if self.wake is None:
            await asyncio.sleep(self.interval_s)
            return
        try:
            await asyncio.wait_for(self.wake.wait(), self.interval_s)
        except TimeoutError:
            pass
        self.wake.clear()


async def run_periodic(service: str, job: Periodic, redis: aioredis.Redis) -> None:
    """Run a job forever; take the lock for each run, go on without it when Redis is down."""
    key = f"hall:lock:{service}:{job.name}"
    ttl_ms = int(max(job.interval_s * 2, 30) * 1000)
    while True:
        token = uuid.uuid4().hex
        held = False
        try:
            held = bool(await redis.set(key, token, nx=True, px=ttl_ms))
        except (RedisError, OSError):
            # Losing Redis must lose nothing: the jobs are idempotent by unique keys, so run anyway.
            metrics.REDIS_DOWN.labels(service, "lock").inc()
            log.warning("periodic.redis_unavailable job=%s: running without the lock", job.name)
            held = True
        if held:
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic.failed job=%s", job.name)
            finally:
                try:
                    await redis.eval(_RELEASE, 1, key, token)
                except (RedisError, OSError):
                    pass
        await job.pause()
