"""Reverse proxy `/api/{service}/{path}` to the five services, passing the user's token through."""

from __future__ import annotations

import re

import httpx
from fastapi import Request
from fastapi.responses import Response

from services.runtime.problems import Problem

# Only the services' versioned APIs and their OpenAPI documents (used to detect optional features).
ALLOWED_PATH = re.compile(r"^(v1(/[A-Za-z0-9._~:@%+-]+)*|openapi\.json)$")
REQUEST_HEADERS = ("authorization", "content-type", "accept", "accept-language", "traceparent", "x-request-id")
RESPONSE_HEADERS = (
    *("content-type", "content-disposition", "www-authenticate", "cache-control", "location", "etag"),
    # A 429 tells the client when to come back; rate-limited endpoints say how much is left.
    *("retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy"),
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def check_path(path: str) -> None:
    """Refuse anything but a service's /v1 API or openapi.json (no traversal, no ops endpoints)."""
    if not ALLOWED_PATH.match(path) or any(seg in ("..", ".") for seg in path.split("/")):
        raise Problem(404, "未找到", "Not found")


async def forward(
    client: httpx.AsyncClient,
    base_url: str,
    path: str,
    request: Request,
    *,
    body: bytes | None = None,
    extra_headers: dict[str, str] | None = None,
    pass_auth: bool = True,
) -> Response:
    """Send the request upstream with the caller's own credentials and relay the answer."""
    passed = REQUEST_HEADERS if pass_auth else tuple(h for h in REQUEST_HEADERS if h != "authorization")
    headers = {k: v for k, v in request.headers.items() if k.lower() in passed}
    headers.update(extra_headers or {})
    if request.client:
        # The caller as the console's TrustedProxies resolved it; services believe it only when the console's
        # address is in their HALL_TRUSTED_PROXIES. A client's own X-Forwarded-For is never passed on.
        headers["x-forwarded-for"] = request.client.host
    try:
        upstream = await client.request(
            request.method,
            f"{base_url}/{path}",
            params=list(request.query_params.multi_items()),
            content=await request.body() if body is None else body,
            headers=headers,
        )
    except httpx.TimeoutException as exc:
        raise Problem(504, "后端服务响应超时，请稍后重试", "Upstream service timed out") from exc
    except httpx.HTTPError as exc:
        raise Problem(502, "后端服务暂不可用，请稍后重试", "Upstream service unreachable") from exc
    out = {k: v for k, v in upstream.headers.items() if k.lower() in RESPONSE_HEADERS}
    return Response(upstream.content, status_code=upstream.status_code, headers=out)
