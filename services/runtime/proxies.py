"""The caller's address: X-Forwarded-For is believed only from configured proxies (HALL_TRUSTED_PROXIES)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """'10.0.0.5, 172.18.0.0/16, ::1' -> networks; a wrong entry stops the start (ValueError)."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def real_client(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client as the first untrusted hop: walk X-Forwarded-For right to left while the sender is a proxy.

    From an untrusted peer the header is ignored entirely (anyone can write it); a malformed hop ends the walk
    at the last address a trusted proxy vouched for.
    """

    def is_trusted(addr: str) -> bool:
        ip = _ip(addr)
        return ip is not None and any(ip in net for net in trusted)

    if not is_trusted(peer):
        return peer
    client = peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            break
        client = str(_ip(hop))
        if not is_trusted(client):
            break
    return client


class TrustedProxies:
    """ASGI middleware: set scope['client'] to the real caller when a trusted proxy forwarded the request."""

    def __init__(self, app, trusted: str | Iterable[str] = ""):
        self.app, self.trusted = app, parse_networks(trusted)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-for"]
            peer, port = scope["client"]
            client = real_client(peer, forwarded, self.trusted) if forwarded else peer
            if client != peer:
                scope = dict(scope, client=(client, port))
        return await self.app(scope, receive, send)
