"""SQLite for SQLAlchemy's aiosqlite dialect, executed inline on the event loop instead of in a thread.

Why: aiosqlite runs every call on a worker thread, so each statement costs two thread hand-offs and a
GIL hand-over (profiled: a fifth of intake's samples sat in that queue hand-off, and on a busy 2-core
machine each hop also waits for a time slice). A SQLite statement on a local WAL database takes
microseconds, less than one hop. So the connection is driven directly: every coroutine below finishes
without suspending. The one wait SQLite has, for another process's write lock, happens at BEGIN
IMMEDIATE; Database.session() tries that without waiting and sleeps asynchronously between tries, so
another process holding the lock never stalls the loop.
Exceptions are sqlite3's own, so the dialect's error handling is unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

# SQLite's busy timeout for connections not opened through Database.session() (migrations at start-up),
# which wait for another process's write lock in place; sessions take the lock without waiting and retry
# asynchronously (db.Database.session), so they never block the loop.
LOCK_WAIT_MS = 30_000


class _RunNow:
    """Stands in for aiosqlite's call queue (the dialect's isolation_level setter uses it): runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future, Any]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, like aiosqlite does
            future.set_exception(exc)


class Cursor:
    """The async cursor interface SQLAlchemy's adapter awaits, over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class Connection:
    """The parts of aiosqlite.Connection that SQLAlchemy's aiosqlite dialect uses, run inline."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # the dialect checks it to know the connection is open
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args, **kw) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """Terminate (the dialect's force close)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def creator(path: str):
    """An `async_creator` for create_async_engine: opens `path` with a short lock wait."""

    async def connect() -> Connection:
        conn = sqlite3.connect(path, timeout=LOCK_WAIT_MS / 1000, check_same_thread=False)
        return Connection(conn)

    return connect
