"""Security headers on every console response: pages, assets, the API proxy, problems and the live stream.

The built pages load only their own hashed bundles (no inline script), so scripts are limited to 'self'. Styles
keep 'unsafe-inline': Element Plus, Vant and ECharts position popovers and draw charts through style attributes,
which cannot carry script. No page may be framed (clickjacking), and no address leaks to other sites.
"""

from __future__ import annotations

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
}
_RAW = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
_NAMES = {k for k, _ in _RAW}


class SecurityHeaders:
    """ASGI middleware: set the headers above on every HTTP response (replacing any an upstream sent)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message = {**message, "headers": kept + _RAW}
            await send(message)

        await self.app(scope, receive, sending)
