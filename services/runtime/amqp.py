"""Connections to a RabbitMQ cluster: a list of node addresses, tried in turn, and a new node after a loss.

aio-pika's robust connection reconnects to the one URL it was given, so a process whose node died would wait for
that node. `FailoverConnection` is the same robust connection (its channels, queues and consumers are restored
after a reconnect), except that every connection attempt tries the nodes in turn, starting with the one after the
node it last used, so a lost node is tried last.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aio_pika.robust_connection import RobustConnection
from yarl import URL

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # one node's attempt: a paused node accepts TCP but never answers the handshake


def node_urls(url: str, nodes: Sequence[str] | str | None) -> list[str]:
    """The URL once per node "host:port" (credentials, vhost and query kept); the URL alone without nodes."""
    if isinstance(nodes, str):
        nodes = [n for n in (part.strip() for part in nodes.split(",")) if n]
    if not nodes:
        return [url]
    base = URL(url)
    out = []
    for node in nodes:
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "")
        u = base.with_host(host.strip("[]"))
        out.append(str(u.with_port(int(port)) if port else u.with_port(None)))
    return out


def redact(url: str | URL) -> str:
    """A URL without its password, for logs."""
    return str(URL(str(url)).with_password(None)) if "@" in str(url) else str(url)


# aio-pika's reconnect loop calls this private step for each attempt (aio-pika 10.x); overriding it is the one
# place a robust connection lets a subclass choose the address. tests/integration/test_amqp_failover.py fails
# if an upgrade renames it.
_ATTEMPT = "_RobustConnection__connect_transport"
assert hasattr(RobustConnection, _ATTEMPT), "aio-pika's robust connection changed: see services/runtime/amqp.py"


class FailoverConnection(RobustConnection):
    """A robust connection over several nodes of one cluster."""

    def __init__(self, url: URL, loop=None, *, urls: Sequence[str] = (), **kwargs):
        self.urls = [URL(u) for u in urls] or [URL(str(url))]
        self.node = 0  # index of the node in use, or last used
        super().__init__(self.urls[0], loop=loop, **kwargs)

    async def _RobustConnection__connect_transport(self) -> None:
        """One connection attempt: each node once, from the one after the last node that served."""
        attempt = getattr(super(), _ATTEMPT)
        n, last_error = len(self.urls), None
        start = (self.node + 1) % n if self.connection_attempt else 0
        for i in range(n):
            index = (start + i) % n
            self.url = self.urls[index]
            try:
                await attempt()
            except CONNECTION_EXCEPTIONS as exc:
                last_error = exc
                if n > 1:
                    log.warning("amqp.node_unavailable node=%s error=%r", redact(self.url), exc)
                continue
            if index != self.node or self.connection_attempt:
                log.info("amqp.connected node=%s", redact(self.url))
            self.node = index
            return
        assert last_error is not None
        raise last_error


async def connect_robust(urls: Sequence[str], *, name: str, reconnect_interval: float = 1) -> FailoverConnection:
    """A robust connection to the first node that answers; after a loss it fails over to the others."""
    conn = FailoverConnection(
        URL(urls[0]), urls=urls, client_properties={"connection_name": name}, reconnect_interval=reconnect_interval
    )
    await conn.connect(timeout=CONNECT_TIMEOUT_S)
    return conn


async def connect(urls: Sequence[str]) -> AbstractConnection:
    """A plain connection (commands: dead letters) to the first node that answers."""
    last_error: BaseException | None = None
    for url in urls:
        try:
            return await aio_pika.connect(url, timeout=CONNECT_TIMEOUT_S)
        except CONNECTION_EXCEPTIONS as exc:
            last_error = exc
    assert last_error is not None
    raise last_error
