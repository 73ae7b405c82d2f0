"""SQLite through aiosqlite: reads with one hand-off to the driver's thread per statement,
write transactions on the event loop's thread.

SQLAlchemy's aiosqlite adapter makes four trips from the event loop to aiosqlite's thread
for every statement: open a cursor, execute, fetch the rows, close the cursor. Each trip is a
queue put, a thread wake-up and a wake-up of the event loop, and on this project's write path
(a checkout sends 8 statements) the trips cost more CPU than SQLite itself. Here a statement
is one trip: a function run on aiosqlite's thread opens the stdlib cursor, executes, reads
the description, rows, rowcount and last row id, and closes it; the adapter then answers
from what it brought back.

A write transaction makes no trip at all once it holds SQLite's write lock. The event loop
comes back to a coroutine only after whatever else is ready (other requests' parsing and
answers), so every trip inside a write transaction stretched the time the lock was held,
and with several workers the lock is what they queue for. So from its BEGIN IMMEDIATE to its
COMMIT or ROLLBACK a write transaction's statements run on the loop's own thread, each a
few dozen microseconds in WAL mode (no fsync at commit with ``synchronous=NORMAL``). Its
BEGIN IMMEDIATE runs there too when the writer holds the line between omnicart processes
(``begin_on_the_loop``, set by ``Database.lock_for_writing``), so it finds the lock free;
otherwise, and whenever SQLite answered busy, BEGIN waits on aiosqlite's thread. A COMMIT or
ROLLBACK with no transaction open (the pool's reset of a connection handed back) makes no
trip. Everything else (errors, isolation levels, the connection's thread for reads) is
SQLAlchemy's and aiosqlite's own, and server-side cursors, which this project does not use,
stay theirs. Connections are opened with ``check_same_thread=False``; SQLAlchemy still uses
each from one coroutine at a time.

``Database`` passes ``sqlite_dbapi()`` as the engine's DBAPI module (``create_async_engine
(..., module=...)``), so URLs stay ``sqlite+aiosqlite://``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

WRITE_BEGIN = "BEGIN IMMEDIATE"
_Answer = tuple[Any, list[Any] | None, int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Answer:
    """On the driver's thread: execute and bring back everything the adapter asks of it."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor:
    """Stands in for an aiosqlite cursor: executes in one trip, then answers from memory."""

    __slots__ = (
        "_adapted",
        "_connection",
        "arraysize",
        "description",
        "lastrowid",
        "rowcount",
        "_rows",
    )

    def __init__(self, adapted: _Connection) -> None:
        self._adapted = adapted
        self._connection = adapted._connection
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def execute(self, operation: str, parameters: Any = None) -> _OneTripCursor:
        return await self._send(operation, parameters, many=False)

    async def executemany(self, operation: str, parameters: Sequence[Any]) -> _OneTripCursor:
        return await self._send(operation, parameters, many=True)

    async def _send(self, operation: str, parameters: Any, *, many: bool) -> _OneTripCursor:
        adapted = self._adapted
        if adapted._in_loop:
            try:
                answer = _run(self._connection._conn, operation, parameters, many)
            except BaseException:
                if not self._connection._conn.in_transaction:  # BEGIN failed (busy)
                    adapted._in_loop = False
                raise
        else:
            # ``_execute`` is aiosqlite's own way onto its thread (its cursors use it too).
            answer = await self._connection._execute(
                _run, self._connection._conn, operation, parameters, many
            )
            if operation == WRITE_BEGIN:
                adapted._in_loop = True
        self.description, rows, self.rowcount, self.lastrowid = answer
        self._rows = rows or []
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return _OneTripCursor(self._adapt_connection)  # type: ignore[arg-type]


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_in_loop",)

    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._in_loop = False  # a write transaction is open: statements run on the loop

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        raw: sqlite3.Connection | None = self._connection._connection
        if raw is None or not raw.in_transaction:
            # Nothing to end (the pool's reset after a commit, a read that never began, a
            # closed connection): no trip to the driver's thread for it.
            self._in_loop = False
            return
        if not self._in_loop:
            super().commit() if commit else super().rollback()
            return
        self._in_loop = False
        try:
            raw.commit() if commit else raw.rollback()
        except Exception as error:
            self._handle_exception(error)

    def close(self) -> None:
        self._in_loop = False
        super().close()


def begin_on_the_loop(dbapi_connection: Any) -> None:
    """Run the next BEGIN IMMEDIATE of this connection, and its transaction, on the loop.

    For a writer that already holds the line between omnicart processes
    (``server.writer_line``): its BEGIN IMMEDIATE then finds the lock free and cannot block the
    event loop, except behind a writer that is not an omnicart process, for one busy slice.
    """
    if isinstance(dbapi_connection, _Connection):
        dbapi_connection._in_loop = True


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def sqlite_dbapi() -> Any:
    """Return the DBAPI module for ``create_async_engine(sqlite+aiosqlite URL, module=…)``."""
    return _Dbapi(aiosqlite, sqlite3)
