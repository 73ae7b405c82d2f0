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
otherwise, and whenever SQLite answered busy, BEGIN waits on aiosqlite's thread. The hot
writes of such a transaction (a cart change's version bump and line upsert) skip the
adapter's cursor and SQLAlchemy's execution too: ``server.db.rows_of`` hands their compiled
SQL and values to ``run_on_the_loop``, which runs them on the stdlib connection. A COMMIT or
ROLLBACK with no transaction open (the pool's reset of a connection handed back) makes no
trip. Neither ever overtakes a statement still queued on the thread for the same connection
(one whose caller was cancelled): then they queue behind it. Everything else (errors,
isolation levels, the connection's thread for reads) is SQLAlchemy's and aiosqlite's own,
and server-side cursors, which this project does not use, stay theirs. Connections are
opened with ``check_same_thread=False``; SQLAlchemy still uses each from one coroutine at a
time.

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
    """Execute and bring back everything the adapter asks of it."""
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


def _run_on_thread(
    adapted: _Connection, conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Answer:
    """On the driver's thread: ``_run``, then count the trip as done (see ``_Connection``)."""
    try:
        return _run(conn, operation, parameters, many)
    finally:
        adapted._trips_done += 1


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
        connection = self._connection
        try:
            if adapted._in_loop and adapted._thread_idle():
                answer = _run(connection._conn, operation, parameters, many)
            else:
                # ``_execute`` is aiosqlite's own way onto its thread (its cursors use it
                # too); it refuses a connection that is closing.
                adapted._trips_sent += 1
                answer = await connection._execute(
                    _run_on_thread, adapted, connection._conn, operation, parameters, many
                )
                if operation == WRITE_BEGIN:
                    adapted._in_loop = True
        except BaseException:
            raw = connection._connection
            if adapted._thread_idle() and (raw is None or not raw.in_transaction):
                adapted._in_loop = False  # BEGIN failed (busy), or the connection is gone
            raise
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
    """The adapted connection: where each statement runs, and the ends of transactions.

    Work on the loop must never overtake work still queued on the driver's thread for the
    same connection: a statement whose caller was cancelled still runs there, and a BEGIN
    that has not run yet would otherwise open a transaction nobody ends, behind a COMMIT
    that found none. So the loop runs a statement, or decides that there is nothing to end,
    only when every trip sent to the thread is done (``_trips_sent`` is counted on the
    loop, ``_trips_done`` on the thread, each by one thread alone); otherwise it queues
    behind them. aiosqlite's own trips (its COMMIT, ROLLBACK and close) are awaited to the
    end, or SQLAlchemy drops the connection when they are cancelled.
    """

    __slots__ = ("_in_loop", "_trips_sent", "_trips_done")

    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._in_loop = False  # a write transaction is open: statements run on the loop
        self._trips_sent = 0
        self._trips_done = 0

    def _thread_idle(self) -> bool:
        return self._trips_done == self._trips_sent

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        aio = self._connection
        raw: sqlite3.Connection | None = aio._connection
        if raw is None:
            self._in_loop = False  # closed: nothing to end, as aiosqlite's adapter does
            return
        if not (aio._running and self._thread_idle()):
            # Behind work still queued (or a connection that is closing): aiosqlite's own
            # trip, which runs after that work, or refuses a closing connection.
            self._in_loop = False
            super().commit() if commit else super().rollback()
            return
        try:
            open_transaction = raw.in_transaction
        except sqlite3.ProgrammingError as error:  # closed on the thread, while aiosqlite closes it
            self._in_loop = False
            self._handle_exception(error)
        if not open_transaction:
            # Nothing to end (the pool's reset after a commit, a read that never began): no
            # trip to the driver's thread for it.
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


def writes_on_the_loop(dbapi_connection: Any) -> bool:
    """Tell whether this connection's write transaction runs its statements on the loop now.

    True from its BEGIN IMMEDIATE to its end, while nothing is still queued on the driver's
    thread for it: then ``run_on_the_loop`` may run a statement of it.
    """
    return (
        isinstance(dbapi_connection, _Connection)
        and dbapi_connection._in_loop
        and dbapi_connection._thread_idle()
    )


def run_on_the_loop(dbapi_connection: Any, operation: str, parameters: Sequence[Any]) -> list[Any]:
    """Run one statement of a write transaction on the loop (``writes_on_the_loop``); its rows.

    As the driver's cursor runs it there, without the cursor: ``server.db.rows_of`` calls it
    with the SQL and the positional values SQLAlchemy's dialect compiled and bound for it.
    Raises the stdlib driver's own errors.
    """
    assert writes_on_the_loop(dbapi_connection), "a write transaction on the loop"
    _description, rows, _count, _last = _run(
        dbapi_connection._connection._conn, operation, parameters, False
    )
    return rows or []


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def sqlite_dbapi() -> Any:
    """Return the DBAPI module for ``create_async_engine(sqlite+aiosqlite URL, module=…)``."""
    return _Dbapi(aiosqlite, sqlite3)
