"""Composition root of the console (工作台): SPA files, API proxy, resident intake, live events, dev login.

The console holds no data and no privileges of its own: every staff call carries the user's token to
the service that owns the data. Its one credential is the intake API key for resident reports
(channel `miniprogram`), configured by the operator as CONSOLE_INTAKE_API_KEY.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.console import proxy
from services.console.config import UPSTREAMS, ConsoleConfig
from services.console.headers import SecurityHeaders
from services.console.live import LiveHub
from services.console.login import DevLoginIn, dev_token, public_directory
from services.console.resident import PHOTO_PATH
from services.console.resident import router as resident_router
from services.runtime import logs, problems
from services.runtime.auth import AuthError, Principal, verify
from services.runtime.problems import Problem
from services.runtime.proxies import TrustedProxies
from services.runtime.service import BodyLimit, Measure

log = logging.getLogger(__name__)
UPSTREAM_TIMEOUT = httpx.Timeout(15.0, connect=3.0)


def create_app(config: ConsoleConfig | None = None) -> FastAPI:
    """Build the console app; the broker connection and HTTP client live in the lifespan."""
    config = config or ConsoleConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.http = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT, follow_redirects=False)
        app.state.live = LiveHub(config.settings.amqp_urls_for("console"))
        await app.state.live.start()
        log.info("console.started upstreams=%s", config.upstreams)
        try:
            yield
        finally:
            await app.state.live.stop()
            await app.state.http.aclose()
            log.info("console.stopped")

    app = FastAPI(
        title="Console 工作台",
        version="0.1.0",
        lifespan=lifespan,
        description="Web pages of the Five-Party Deliberation Hall platform (五方议事厅) and their API gateway.",
    )
    app.state.config = config
    problems.install(app)
    _add_middleware(app, config)
    _mount_ops(app, config)
    _mount_auth(app, config)
    app.include_router(resident_router)  # before the catch-all proxy route of _mount_api
    _mount_api(app, config)
    _mount_pages(app, config)
    return app


def _add_middleware(app: FastAPI, config: ConsoleConfig) -> None:
    """Body limits, the trusted TLS proxy, metrics and security headers (the last added runs first)."""
    app.add_middleware(
        BodyLimit,
        max_bytes=config.settings.max_body_bytes,
        upload_paths=(PHOTO_PATH, "/api/intake/v1/photos"),  # photos: up to intake's 5 MiB
        upload_max_bytes=config.settings.upload_max_bytes,
    )

    app.add_middleware(TrustedProxies, trusted=config.settings.trusted_proxies)  # the TLS proxy in front, if any
    app.add_middleware(Measure, service="console")
    app.add_middleware(SecurityHeaders)  # CSP, framing, referrer, sniffing, permissions: every response


def _mount_ops(app: FastAPI, config: ConsoleConfig) -> None:
    """Metrics, liveness and readiness."""

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"], summary="Alive (存活检查)")
    async def healthz() -> dict:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz", tags=["ops"], summary="Pages built and broker reachable (就绪检查)")
    async def readyz(request: Request) -> JSONResponse:
        built = (config.static_dir / "index.html").is_file() and (config.static_dir / "m.html").is_file()
        checks = {
            "pages": "ok" if built else "missing: run `npm ci && npm run build` in services/console/web",
            "broker": "ok" if request.app.state.live.is_connected else "unreachable",
        }
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )


def _mount_auth(app: FastAPI, config: ConsoleConfig) -> None:
    """How to log in, who a token is, the development login."""

    @app.get("/auth/config", tags=["auth"], summary="How to log in (登录方式)")
    async def auth_config() -> dict:
        return {"dev_login": config.dev_login, "idp_login_url": config.idp_login_url, "env": config.settings.env}

    @app.get("/auth/whoami", tags=["auth"], summary="Who a token belongs to (当前用户)")
    async def whoami(request: Request) -> dict:
        p = _principal(_bearer(request), config)
        return {"sub": p.sub, "role": p.role, "communities": sorted(p.communities), "name": p.name, "unit": p.unit}

    @app.post("/auth/dev-login", tags=["auth"], summary="Development login with the built-in issuer (开发登录)")
    async def dev_login(body: DevLoginIn) -> dict:
        if not config.dev_login:
            raise Problem(404, "生产环境请通过统一身份认证登录", "Dev login is disabled in production")
        return dev_token(body, config)


def _mount_api(app: FastAPI, config: ConsoleConfig) -> None:
    """The public directory, the proxy to the services' APIs and the live events stream."""

    @app.get("/api/directory", tags=["public"], summary="Communities, compounds and buildings (names only)")
    async def directory() -> JSONResponse:
        return JSONResponse(public_directory(), headers={"Cache-Control": "public, max-age=300"})

    @app.api_route("/api/{service}/{path:path}", methods=list(proxy.METHODS), tags=["proxy"], include_in_schema=False)
    async def api_proxy(service: str, path: str, request: Request) -> Response:
        if service not in UPSTREAMS:
            raise Problem(404, "未找到", "Not found")
        proxy.check_path(path)
        return await proxy.forward(request.app.state.http, config.upstreams[service], path, request)

    @app.get("/events", tags=["live"], summary="Live hints as Server-Sent Events (实时提示)")
    async def events(
        request: Request,
        community: Annotated[str | None, Query(max_length=64)] = None,
        access_token: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> StreamingResponse:
        principal = _principal(access_token or _bearer(request), config)
        if community is not None and not principal.sees(community):
            raise Problem(403, f"无权查看社区「{community}」", f"No access to community {community!r}")
        frames = request.app.state.live.stream(principal, community, request.is_disconnected)
        return StreamingResponse(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _principal(token: str | None, config: ConsoleConfig) -> Principal:
    """The verified user of a bearer token, else 401."""
    if not token:
        raise Problem(401, "请先登录（缺少令牌）", "Token required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify(token, config.settings)
    except AuthError as exc:
        raise Problem(401, "登录凭证无效或已过期", f"Invalid token: {exc}") from exc


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _mount_pages(app: FastAPI, config: ConsoleConfig) -> None:
    """Serve the built SPA: staff pages at /, resident H5 at /m, hashed assets under /assets (pre-compressed)."""
    static = config.static_dir
    no_cache = {"Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    async def staff_page(request: Request) -> Response:
        return _page(static / "index.html", no_cache, request)

    @app.get("/m", include_in_schema=False)
    async def resident_page(request: Request) -> Response:
        return _page(static / "m.html", no_cache, request)

    @app.get("/m/", include_in_schema=False)
    async def resident_slash() -> Response:
        return RedirectResponse("/m", status_code=308)

    @app.get("/m/ack/{token}", include_in_schema=False)
    async def ack_link(token: str) -> Response:
        # Pages carry a plain path (SMS and mail clients keep it intact); the H5 app routes by fragment.
        if not token.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(token) > 1024:
            raise Problem(404, "链接无效", "Link not found")
        return RedirectResponse(f"/m#/ack/{token}", status_code=302, headers={"Referrer-Policy": "no-referrer"})

    @app.api_route("/assets/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def asset(name: str, request: Request) -> Response:
        # Hashed names never change content: cached for a year. Only built files, never a path of the caller's.
        path = static / "assets" / name
        if not ASSET_NAME.fullmatch(name) or name.endswith(COMPRESSED) or not path.is_file():
            raise Problem(404, "未找到", "Not found")
        return _encoded(path, {"Cache-Control": "public, max-age=31536000, immutable"}, request)


ASSET_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}")
# Pre-compressed copies written by the build (vite.config.js), best first: brotli, then gzip.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
COMPRESSED = tuple(suffix for _, suffix in ENCODINGS)


def accepted(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows (q=0 refuses one; `*` allows any)."""
    ok: set[str] = set()
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if coding == "*":
            ok |= {name for name, _ in ENCODINGS}
        elif coding:
            ok.add(coding)
    return ok


def _encoded(path: Path, headers: dict, request: Request, media_type: str | None = None) -> Response:
    """The file, or its pre-compressed copy when the client accepts that coding; Vary tells caches so."""
    media_type = media_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {**headers, "Vary": "Accept-Encoding"}
    allowed = accepted(request.headers.get("accept-encoding", ""))
    for coding, suffix in ENCODINGS:
        packed = path.with_name(path.name + suffix)
        if coding in allowed and packed.is_file():
            return FileResponse(packed, media_type=media_type, headers={**headers, "Content-Encoding": coding})
    return FileResponse(path, media_type=media_type, headers=headers)


def _page(path: Path, headers: dict, request: Request) -> Response:
    if not path.is_file():
        raise Problem(503, "页面尚未构建：请在 services/console/web 运行 npm ci && npm run build", "Pages not built")
    return _encoded(path, headers, request, "text/html; charset=utf-8")


def main() -> None:
    """Run the console process."""
    import sys

    config = ConsoleConfig.from_env()
    if sys.argv[1:] not in ([], ["serve"]):
        raise SystemExit("usage: python -m services.console [serve]")
    logs.configure("console", level=config.settings.log_level, json=config.settings.log_json)
    uvicorn.run(
        create_app(config),
        host=config.settings.host,
        port=config.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
        proxy_headers=False,  # TrustedProxies decides whose X-Forwarded-For counts
    )
