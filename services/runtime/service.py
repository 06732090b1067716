"""The FastAPI app factory and process entrypoint shared by every service."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import redis.asyncio as aioredis
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData, Table

from services.runtime import logs, metrics, problems, signing, workcal, workcal_store
from services.runtime.bus import Bus
from services.runtime.consumer import STOP_STEP_S, Subscription
from services.runtime.db import Database
from services.runtime.directory import load_directory
from services.runtime.locks import Periodic, run_periodic
from services.runtime.proxies import TrustedProxies
from services.runtime.ratelimit import RateLimitHeaders
from services.runtime.settings import Settings, get_settings, require_for_production
from services.runtime.tables import BusTables

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a running service holds: settings, database, bus, Redis; reached from routes via `Ctx`."""

    service: str
    settings: Settings
    db: Database
    bus: Bus
    redis: aioredis.Redis
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceSpec:
    """Everything that makes one service: its tables, migrations, queues, routes and periodic jobs."""

    name: str
    title: str
    metadata: MetaData
    migrations: Path
    routers: list[APIRouter]
    subscriptions: Callable[[Settings], list[Subscription]] = lambda _s: []
    periodic: Callable[[Context], list[Periodic]] = lambda _c: []
    on_start: Callable[[Context], Any] | None = None
    upload_paths: tuple[str, ...] = ()  # routes whose body may reach settings.upload_max_bytes
    production_needs: tuple[str, ...] = ("signing_secret",)  # settings.NEEDS checked before a production start
    # The service's `workcal_year` table (workcal_store) when it counts workdays: every process reads it at start and
    # every holidays.RECHECK_SECONDS, and /readyz warns when the next 90 days are not covered. None: no calendar.
    workcal: Table | None = None


async def get_ctx(request: Request) -> Context:
    """The running service's context."""
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(get_ctx)]


class BodyLimit:
    """Refuse request bodies above a size with 413 before they are read into memory."""

    def __init__(self, app, max_bytes: int, upload_paths: tuple[str, ...] = (), upload_max_bytes: int = 0):
        self.app, self.default_max = app, max_bytes
        self.upload_paths, self.upload_max = upload_paths, upload_max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_max if scope.get("path") in self.upload_paths else self.default_max
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._reject(scope, receive, send, limit)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await self._reject(scope, receive, send, limit)

    async def _reject(self, scope, receive, send, limit: int):
        resp = problems.problem_response(413, f"请求内容超过 {limit} 字节", f"Body larger than {limit} bytes")
        await resp(scope, receive, send)


class _TooLarge(Exception):
    pass


class Measure:
    """Count and time every HTTP request by route template (plain ASGI: no task group per request)."""

    def __init__(self, app, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.child(metrics.HTTP_REQUESTS, self.service, scope["method"], route, status).inc()
            metrics.child(metrics.HTTP_SECONDS, self.service, route).observe(time.perf_counter() - started)


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    """Build a service's app: problem+json, health, readiness, metrics, bus and periodic jobs in lifespan."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from services.runtime.migrate import upgrade

        # Every service signs and checks events: no secret in production stops the start (not the first event);
        # one check names everything missing at once.
        require_for_production(settings, *spec.production_needs)
        signing.server_secret(settings)
        # Parse and validate the county directory before serving: a broken file stops the start, and the
        # first request does not pay for parsing a large county.
        await asyncio.to_thread(load_directory)
        db = Database(settings.database_url(spec.name))
        await upgrade(db, spec.migrations)  # migrations run before the first request is served
        tables = BusTables(spec.metadata)
        bus = Bus(
            service=spec.name, settings=settings, db=db, tables=tables, subscriptions=spec.subscriptions(settings)
        )
        redis = aioredis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        ctx = Context(spec.name, settings, db, bus, redis)
        app.state.ctx = ctx
        if spec.workcal is not None:
            await workcal_store.refresh(db, spec.workcal)  # the county's years before the first request or event
        if spec.on_start:
            await spec.on_start(ctx)
        await bus.start()
        jobs = [asyncio.create_task(run_periodic(spec.name, job, redis), name=job.name) for job in spec.periodic(ctx)]
        if spec.workcal is not None:  # every process, not one leader: each keeps its own in-memory table
            jobs.append(asyncio.create_task(workcal_store.keep_fresh(db, spec.workcal), name="workcal-refresh"))
        log.info("service.started service=%s db=%s", spec.name, db.dialect)
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            if jobs:
                await asyncio.wait(jobs, timeout=STOP_STEP_S)  # a job stuck in a call that ignores cancellation
            await bus.stop()
            await redis.aclose()
            await db.dispose()
            log.info("service.stopped service=%s", spec.name)

    app = FastAPI(
        title=spec.title,
        version="0.1.0",
        lifespan=lifespan,
        description=f"{spec.title} — part of the Five-Party Deliberation Hall platform (五方议事厅).",
    )
    problems.install(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        upload_paths=spec.upload_paths,
        upload_max_bytes=settings.upload_max_bytes,
    )

    # X-Forwarded-For only from configured proxies; uvicorn's own handling (which trusts loopback) is off.
    app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(Measure, service=spec.name)

    _mount_ops(app, spec)
    for router in spec.routers:
        app.include_router(router)
    return app


def _mount_ops(app: FastAPI, spec: ServiceSpec) -> None:
    """Liveness, readiness (database, broker, calendar coverage) and Prometheus metrics."""

    @app.get("/healthz", tags=["ops"], summary="Alive (存活检查)")
    async def healthz() -> dict:
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["ops"], summary="Database and broker reachable (就绪检查)")
    async def readyz(ctx: Ctx) -> JSONResponse:
        checks = {"database": "ok", "broker": "ok" if ctx.bus.is_connected else "unreachable"}
        try:
            await asyncio.wait_for(ctx.db.ping(), 2)
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body: dict = {"status": "ready" if ok else "not_ready", "checks": checks}
        # A calendar running out does not stop a service (deadlines fall back to Mon-Fri), but people must know.
        # Only services that count workdays keep the county's table, so only they can say what it covers.
        today = dt.datetime.now(workcal.TZ).date()
        if spec.workcal is not None and (warning := await asyncio.to_thread(workcal.coverage_warning, today)):
            body["warnings"] = [warning]
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus(ctx: Ctx) -> Response:
        try:
            metrics.child(metrics.OUTBOX_PENDING, spec.name).set(await asyncio.wait_for(ctx.bus.relay.pending(), 2))
        except Exception:
            pass
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve(spec_factory: Callable[[], ServiceSpec]) -> None:
    """Run one service process: configure logging, then uvicorn (migrations run in the lifespan)."""
    settings = get_settings()
    spec = spec_factory()
    logs.configure(spec.name, level=settings.log_level, json=settings.log_json)
    uvicorn.run(
        create_app(spec, settings),
        host=settings.host,
        port=settings.port(spec.name),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        lifespan="on",
        proxy_headers=False,  # TrustedProxies decides whose X-Forwarded-For counts
    )


def main(
    spec_factory: Callable[[], ServiceSpec], commands: dict[str, Callable[[list[str]], None]] | None = None
) -> None:
    """`python -m services.<name> [command ...]`: serve by default; `dlq list|replay`, `migrate`, or extra commands."""
    import sys

    argv = sys.argv[1:]
    if not argv or argv[0] == "serve":
        serve(spec_factory)
    elif argv[0] == "dlq":
        from services.runtime import dlq

        spec = spec_factory()
        queues = [s.spec.name for s in spec.subscriptions(get_settings())]
        dlq.main(argv[1:], queues=queues, prog=f"python -m services.{spec.name} dlq", service=spec.name)
    elif argv[0] == "migrate":
        from services.runtime.migrate import upgrade

        spec = spec_factory()
        db = Database(get_settings().database_url(spec.name))

        async def _run() -> None:
            await upgrade(db, spec.migrations)
            await db.dispose()

        asyncio.run(_run())
        print(f"{spec.name}: database at head")
    elif commands and argv[0] in commands:
        commands[argv[0]](argv[1:])
    else:
        names = ["serve", "dlq", "migrate", *(commands or {})]
        raise SystemExit(f"unknown command {argv[0]!r}; one of: {', '.join(names)}")
