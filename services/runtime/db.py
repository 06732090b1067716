"""Async database access for one service: SQLite (default) or PostgreSQL, sessions, readiness."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.runtime import sqlite_inline


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL is SQLite."""
    return url.startswith("sqlite")


def _sqlite_locked(exc: BaseException) -> bool:
    """Tell whether an error is SQLite's "database is locked" (another connection holds the write lock)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


NOWAIT = "hall_sqlite_nowait"  # execution option: BEGIN IMMEDIATE fails at once instead of waiting
LOCK_PATIENCE_S = 30.0  # how long a session waits (asynchronously) for another process's write lock


def make_engine(url: str) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions."""
    if not is_sqlite(url):
        return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    # One pooled connection per process: every transaction takes SQLite's write lock (BEGIN IMMEDIATE), so
    # more connections only wait inside SQLite's busy handler, which sleeps up to 100 ms between tries;
    # with one, transactions queue on the pool instead (woken the moment it is free) and reuse it.
    path = make_url(url).database or ""
    engine = create_async_engine(
        url, async_creator=sqlite_inline.creator(path), pool_size=1, max_overflow=0, pool_timeout=60
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when a transaction starts (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={sqlite_inline.LOCK_WAIT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        # A deferred transaction that reads then writes fails at once with "database is locked"
        # when another process writes; taking the write lock up front makes the busy timeout apply.
        if not conn.get_execution_options().get(NOWAIT):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        # Sessions try once without waiting: the driver runs on the event loop, so SQLite's busy wait
        # would stall every coroutine; Database.session() waits asynchronously and tries again.
        raw = conn.connection.driver_connection._conn
        raw.execute("PRAGMA busy_timeout=0")
        try:
            # On the driver's connection, like the pragmas: SQLAlchemy's execute path cost ~140 Python calls
            # per transaction here, and a BEGIN needs none of it (no parameters, no result).
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc  # as exec_driver_sql raised it
        finally:
            raw.execute(f"PRAGMA busy_timeout={sqlite_inline.LOCK_WAIT_MS}")

    return engine


class Database:
    """One service's database: engine plus session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back on error."""
        async with self._sessions() as session:
            try:
                if self.dialect == "sqlite":
                    await _take_write_lock(session)
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.session() as s:
            await (await s.connection()).execute(text("SELECT 1"))
            await s.rollback()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def _take_write_lock(session: AsyncSession) -> None:
    """Begin the session's SQLite transaction, waiting out another process's write lock without blocking."""
    delay, waited = 0.002, 0.0
    while True:
        try:
            await session.connection(execution_options={NOWAIT: True})
            return
        except OperationalError as exc:
            if not _sqlite_locked(exc) or waited >= LOCK_PATIENCE_S:
                raise
        await session.rollback()
        await asyncio.sleep(delay)
        waited, delay = waited + delay, min(delay * 2, 0.05)
