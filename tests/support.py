"""Test helpers shared by the tiers: a service's real database and units of work without a broker."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from services.contracts import Envelope
from services.runtime.db import Database
from services.runtime.migrate import upgrade
from services.runtime.service import ServiceSpec
from services.runtime.tables import BusTables
from services.runtime.uow import UnitOfWork

PG_ADMIN_URL = os.environ.get("HALL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("HALL_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")


def wait_for(
    check: Callable[[], object],
    timeout: float = 15.0,
    *,
    interval: float = 0.05,
    what: str = "",
    ignoring: tuple[type[BaseException], ...] = (),
):
    """Poll a synchronous `check` until it returns something truthy; return that, or fail the test.

    The one wait-until of the test tiers. Exceptions of the `ignoring` types count as "not yet" (a service
    still starting answers with a connection error); the last value or exception is shown on failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if value := check():
                return value
        except ignoring as exc:
            value = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout:g} s: {what or check}; last: {value!r}")
        time.sleep(interval)


async def wait_for_async(check: Callable[[], object], timeout: float = 15.0, *, interval: float = 0.05, what: str = ""):
    """`wait_for` for async tests: `check` may return an awaitable, and the event loop runs between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout:g} s: {what or check}; last: {value!r}")
        await asyncio.sleep(interval)


def consumer_count(queue: str, outcome: str, metrics_text: str | None = None) -> float:
    """Deliveries the consumers of `queue` finished with `outcome`, from the runtime's metrics.

    `outcome` is a handler result ("ok", "duplicate") or a dead-letter reason ("rejected", "forged", ...); the
    metrics are this process's, or another process's /metrics text. A test that proves a non-event waits until
    the delivery that must change nothing is counted, then asserts: a positive barrier, neither a sleep that
    wastes time nor one that passes by luck.
    """
    from prometheus_client import REGISTRY
    from prometheus_client.parser import text_string_to_metric_families

    families = REGISTRY.collect() if metrics_text is None else text_string_to_metric_families(metrics_text)
    return sum(
        sample.value
        for metric in families
        if metric.name in ("hall_events_consumed", "hall_events_dead_lettered")
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels.get("queue") == queue
        and outcome in (sample.labels.get("result"), sample.labels.get("why"))
    )


# Connections a test tried to open to the broker's default vhost (refused; the autouse fixture fails the test).
DEFAULT_VHOST_USE: list[str] = []


def vhost_of(url) -> str:
    """The vhost aiormq opens for a URL (its own rule: an empty path or "/" is the default vhost "/")."""
    from yarl import URL

    path = URL(str(url)).path
    return "/" if path in ("", "/") else path[1:].replace("%2F", "/")


def install_default_vhost_guard() -> None:
    """Refuse every connection to the default vhost from this process (aio-pika opens them through aiormq)."""
    import aiormq
    from yarl import URL

    if getattr(aiormq.connect, "hall_guard", False):
        return
    connect = aiormq.connect

    def guarded(url, *args, **kwargs):
        if vhost_of(url) == "/":
            DEFAULT_VHOST_USE.append(str(URL(str(url)).with_password(None)))
            raise ConnectionRefusedError("tests must not use the default vhost: take the `vhost` or `hall_env` fixture")
        return connect(url, *args, **kwargs)

    guarded.hall_guard = True
    aiormq.connect = guarded


# Values a machine made, where digits such as a room number (502) may appear by chance: timestamps, uuids,
# hex ids with any prefix (rpt_…, hh_…, box-…) and digests.
_GENERATED = re.compile(
    r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?|[0-9a-f]{8}-[0-9a-f-]{27}|(?:[A-Za-z0-9]+[-_:])*[0-9a-f]{12,}"
)


def readable(doc: object) -> str:
    """Every key and value a person could read in a JSON document (raw or parsed), leaving out machine-made ones."""
    return _words(json.loads(doc) if isinstance(doc, (str, bytes)) else doc)


def _words(doc: object) -> str:
    if isinstance(doc, dict):
        return " ".join(f"{k} {_words(v)}" for k, v in doc.items())
    if isinstance(doc, list):
        return " ".join(_words(v) for v in doc)
    text = str(doc)
    return "" if _GENERATED.fullmatch(text) else text


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (the tests run on the broker's machine, as DESIGN.md §7 says)."""
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True, timeout=60).stdout


# The broker's management API makes and drops a vhost in ~0.1 s; rabbitmqctl boots an Erlang VM per call (~1-2 s
# of CPU each, three calls per test), which was minutes of every run. tools/test_env.sh enables the plugin.
MANAGEMENT_API = os.environ.get("HALL_TEST_RABBITMQ_API", "http://127.0.0.1:15672/api")


def _management(method: str, path: str, body: dict | None = None) -> bool:
    """One call to the management API as guest; False when the API is not there (fall back to rabbitmqctl)."""
    import httpx

    try:
        r = httpx.request(method, f"{MANAGEMENT_API}{path}", json=body, auth=("guest", "guest"), timeout=30)
    except httpx.TransportError:
        return False
    r.raise_for_status()
    return True


def _add_vhost(name: str) -> None:
    v = quote(name, safe="")
    if _management("PUT", f"/vhosts/{v}") and _management(
        "PUT", f"/permissions/{v}/guest", {"configure": ".*", "write": ".*", "read": ".*"}
    ):
        return
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def _delete_vhost(name: str) -> None:
    if not _management("DELETE", f"/vhosts/{quote(name, safe='')}"):
        rabbitmqctl("delete_vhost", name)


@contextlib.contextmanager
def private_vhost(prefix: str) -> Iterator[str]:
    """A fresh RabbitMQ vhost named <prefix>-<random>, deleted afterwards; yields its AMQP URL."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    _add_vhost(name)
    try:
        yield f"{AMQP_BASE}/{quote(name, safe='')}"
    finally:
        _delete_vhost(name)


class ServiceStore:
    """A migrated database of one service, and units of work on it (events land in its outbox)."""

    def __init__(self, spec: ServiceSpec, db: Database):
        self.spec, self.db = spec, db
        self.tables = BusTables(spec.metadata)
        self.notified = 0

    @asynccontextmanager
    async def uow(self, *, cause: Envelope | None = None, actor: str | None = None) -> AsyncIterator[UnitOfWork]:
        """A unit of work like the bus gives handlers and routes."""
        async with self.db.session() as s:
            yield UnitOfWork(s, self.tables, service=self.spec.name, on_commit=self._notify, cause=cause, actor=actor)

    def _notify(self) -> None:
        self.notified += 1

    async def outbox(self) -> list[Envelope]:
        """Every event this store has emitted, oldest first."""
        async with self.db.session() as s:
            rows = (await s.exec(self.tables.outbox.select().order_by(self.tables.outbox.c.id))).all()
        return [Envelope.from_bytes(r.body) for r in rows]

    async def handle(self, handler, env: Envelope, data) -> None:
        """Run one handler in its own committed unit of work."""
        async with self.uow(cause=env) as uow:
            await handler(uow, env, data)
            await uow.commit()


async def sqlite_store(spec: ServiceSpec, tmp_path: Path) -> ServiceStore:
    """A fresh migrated SQLite database for a service."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / f'{spec.name}-{uuid.uuid4().hex[:6]}.db'}")
    await upgrade(db, spec.migrations)
    return ServiceStore(spec, db)


@asynccontextmanager
async def pg_store(spec: ServiceSpec, prefix: str) -> AsyncIterator[ServiceStore]:
    """A fresh migrated PostgreSQL database for a service, dropped afterwards."""
    url = await create_pg_database(prefix)
    db = Database(url)
    try:
        await upgrade(db, spec.migrations)
        yield ServiceStore(spec, db)
    finally:
        await db.dispose()
        await drop_pg_database(url)


@asynccontextmanager
async def intake_pg_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str) -> AsyncIterator[ServiceStore]:
    """intake's store on a fresh PostgreSQL database, with its own var dir and a fresh vault."""
    from services.intake import service as intake_service
    from services.intake.app import spec as intake_spec
    from services.runtime.settings import get_settings

    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    async with pg_store(intake_spec(), prefix) as s:
        yield s


async def publish_channel_messages(amqp_url: str, envelopes: Iterable[Envelope]) -> None:
    """Publish channel.message.v1 envelopes on hall.channels with confirms, as a channel adapter does."""
    import aio_pika

    from services.contracts import CHANNELS_EXCHANGE, CONTENT_TYPE

    conn = await aio_pika.connect(amqp_url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(CHANNELS_EXCHANGE)
        for env in envelopes:
            msg = aio_pika.Message(
                env.to_bytes(),
                message_id=env.id,
                content_type=CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=env.type,
            )
            await ex.publish(msg, routing_key=env.type, mandatory=True)


async def create_pg_database(prefix: str) -> str:
    """Create a uniquely named PostgreSQL database; return its SQLAlchemy asyncpg URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


async def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database (connections are cut)."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def signed(env: Envelope) -> dict:
    """AMQP headers that make a hand-published domain event look like one a service published."""
    from services.runtime.signing import SIGNATURE_HEADER, sign_event

    return {SIGNATURE_HEADER: sign_event(env.to_bytes())}


def on_the_day(monkeypatch, client, session_id: str) -> None:
    """Move the meeting service's clock to a session's start: a session is concluded on or after its day."""
    import datetime as dt

    from services.meeting import planner
    from services.meeting.models import MeetingSession, aware

    async def starts() -> dt.datetime:
        async with client.app.state.ctx.db.session() as s:
            return aware((await s.get(MeetingSession, session_id)).starts_at)

    when = client.portal.call(starts)
    monkeypatch.setattr(planner, "utcnow", lambda: when.astimezone(dt.UTC))
