"""SQLite through aiosqlite with one hand-off to the driver's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips from the event loop to aiosqlite's thread
for every statement: open a cursor, execute, fetch the rows, close the cursor. Each trip is a
queue put, a thread wake-up and a wake-up of the event loop, and on this project's write path
(a checkout sends 8 statements) the trips cost more CPU than SQLite itself. Here a statement
is one trip: a function run on aiosqlite's thread opens the stdlib cursor, executes, reads
the description, rows, rowcount and last row id, and closes it; the adapter then answers
from what it brought back. Everything else (transactions, errors, isolation levels, the
connection's thread) is SQLAlchemy's and aiosqlite's own, and server-side cursors, which
this project does not use, stay theirs.

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

    __slots__ = ("_connection", "arraysize", "description", "lastrowid", "rowcount", "_rows")

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
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
        # ``_execute`` is aiosqlite's own way onto its thread (its cursors use it too).
        answer = await self._connection._execute(
            _run, self._connection._conn, operation, parameters, many
        )
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
        return _OneTripCursor(connection)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = _Cursor


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def sqlite_dbapi() -> Any:
    """Return the DBAPI module for ``create_async_engine(sqlite+aiosqlite URL, module=…)``."""
    return _Dbapi(aiosqlite, sqlite3)
