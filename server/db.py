"""The async database engine, session factory and the SQLite settings that make it safe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import BindParameter, column, event, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only, greenlet_spawn

from server.config import Settings
from server.errors import ServiceUnavailable
from server.outages import is_database_busy, is_lost_connection
from server.sqlite_driver import (
    begin_on_the_loop,
    run_on_the_loop,
    sqlite_dbapi,
    writes_on_the_loop,
)
from server.writer_line import WriterLine, let_go

# Execution option naming the kind of BEGIN a SQLite write transaction needs.
# The session every service takes first. The GraphQL layer names it through this alias, so
# that only ``server`` imports SQLAlchemy.
Session: TypeAlias = AsyncSession

_SQLITE_BEGIN = "omnicart_sqlite_begin"
# Execution option: the writer holds the line between omnicart processes, so its BEGIN
# IMMEDIATE finds the lock free and its transaction runs on the event loop's thread.
_SQLITE_LINE_HELD = "omnicart_sqlite_line_held"
# SQLite's busy handler waits this long per try (1, 2, 5, 10 ms sleeps), then we sleep a
# little ourselves and try again, until the busy timeout is spent.
_BUSY_SLICE_MS = 20
_BUSY_PAUSE_S = 0.002
_BUSY_MESSAGE = "The database is busy with other writers right now; try again in a moment."
# A pooled PostgreSQL connection idle this long or longer is pinged before it is used again
# (``_ping_when_idle``); one handed back sooner is used as it is.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "omnicart_idle_since"


@dataclass
class _WriterTurns:
    """One event loop's SQLite writers: their queue, the one writing, its line between processes."""

    line: WriterLine | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    owner: asyncio.Task[Any] | None = None
    deadline: float = 0.0
    held: int | None = None  # the line's lock, while this process's writer has it

    def let_go(self) -> None:
        """Hand the line's lock to the writer waiting at its front, of whichever process.

        It is never kept for this process's next writer: that writer runs only when the
        event loop comes to it, after whatever else is ready, and the lock would sit idle
        meanwhile. Handed on at once, the writer already waiting in line (in its own
        thread, ``server.writer_line``) takes it. A write transaction holds it from its
        BEGIN to its COMMIT, and its statements run on the event loop's thread, so no other
        request's work runs in between (``server.sqlite_driver``).
        """
        if self.held is not None:
            let_go(self.held)
            self.held = None


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """Turn on WAL, foreign keys and a busy timeout, and let write sessions BEGIN IMMEDIATE.

    pysqlite's own transaction handling is switched off so that SAVEPOINTs work and so that
    a write transaction takes the write lock at BEGIN: a deferred transaction that first
    reads and then writes fails at once with SQLITE_BUSY when another writer got in
    between, while BEGIN IMMEDIATE waits its turn (busy_timeout) and then sees fresh data.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # SQLite's own wait for another process's write lock is one short slice (its
        # sleeps grow to 100 ms, too coarse to catch the gaps between another process's
        # writers); ``Database.lock_for_writing`` retries it up to the whole timeout. The
        # slice is also the longest a BEGIN IMMEDIATE on the event loop can block it.
        cursor.execute(f"PRAGMA busy_timeout={min(int(busy_timeout_ms), _BUSY_SLICE_MS)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_SQLITE_LINE_HELD):
            begin_on_the_loop(conn.connection.dbapi_connection)
        conn.exec_driver_sql(f"BEGIN {options.get(_SQLITE_BEGIN, 'DEFERRED')}")


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled PostgreSQL connection before use when it sat idle ``idle_s`` or longer.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and on asyncpg its ping is three
    round trips (BEGIN, ``;``, ROLLBACK): under load about a tenth of a cart change's time,
    for connections handed back milliseconds before. Here only a connection that sat in the
    pool gets a ping, of one round trip; one that fails it (PostgreSQL restarted, the
    backend was terminated, an idle timeout closed it) is replaced before any statement
    runs. A connection that died within ``idle_s`` of its last use fails its operation
    instead (SERVICE_UNAVAILABLE, ``server.outages``), and SQLAlchemy then drops every
    connection the pool held before that failure, as it does without any ping.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_s:
            return  # just connected, or back moments ago
        try:
            await_only(record.driver_connection.fetchrow(";"))
        except Exception as exc:
            # The pool drops this connection and checks out another (or connects anew).
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc


def upsert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into ``table`` in the session's dialect, which takes ON CONFLICT clauses.

    PostgreSQL and SQLite spell ``on_conflict_do_update``/``on_conflict_do_nothing`` and
    ``excluded`` alike; only the construct differs, and this is the one place that picks it.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def json_rows(
    session: AsyncSession, columns: str, rest: str, *, binds: Sequence[BindParameter[Any]] = ()
) -> Any:
    """Return ``(SELECT <columns as one JSON array per row> <rest>)`` for a RETURNING clause.

    It hands a statement's ``RETURNING`` the rows of another table as one JSON array of
    arrays (``[]`` for none): a cart's lines with its version bump, so a write reads nothing
    afterwards. Written as SQL text, every column qualified: SQLAlchemy renders RETURNING
    columns without their table, which inside a correlated subquery would name the wrong
    one. Rows come in no promised order; ``decode_json_rows`` returns them as lists.
    ``binds`` are the bind parameters ``rest`` names (``:name``), when it names any.
    """
    if session.get_bind().dialect.name == "postgresql":
        aggregate = f"COALESCE(json_agg(json_build_array({columns})), '[]'::json)"
    else:
        aggregate = f"json_group_array(json_array({columns}))"
    if binds:
        selected = text(f"SELECT {aggregate} {rest}").bindparams(*binds)
        return selected.columns(column("rows")).scalar_subquery()
    return literal_column(f"(SELECT {aggregate} {rest})")


def decode_json_rows(value: Any) -> list[list[Any]]:
    """Return the rows of a ``json_rows`` aggregate (the drivers hand JSON over as text)."""
    if value is None:
        return []
    rows = json.loads(value) if isinstance(value, str | bytes) else value
    return [list(row) for row in rows]


class SerializedSession(AsyncSession):
    """An AsyncSession that runs one statement at a time.

    GraphQL resolves sibling fields concurrently, and they share the operation's session;
    a plain AsyncSession refuses a second statement while one is in flight. Each call
    here waits its turn instead. Closing one whose transaction ended costs no greenlet.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._statement_lock = asyncio.Lock()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self._statement_lock:
            return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        async with self._statement_lock:
            return await super().scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        async with self._statement_lock:
            return await super().scalars(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        async with self._statement_lock:
            return await super().get(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        async with self._statement_lock:
            await super().flush(*args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        async with self._statement_lock:
            await super().refresh(*args, **kwargs)

    async def close(self) -> None:
        """Close the session; one whose transaction already ended closes without a greenlet.

        After its commit or rollback a session holds no connection, so closing it only lets
        go of its objects, which needs no I/O: done at once, where ``AsyncSession.close``
        switches to a greenlet for it (some 8 µs, on every operation).
        """
        if self.sync_session.get_transaction() is None:
            self.sync_session.close()
            return
        await super().close()


def _kept_pool(size: int, burst: int) -> dict[str, int]:
    """Return the QueuePool arguments of a pool of ``size`` connections, ``burst`` more under
    a burst, that keeps the connections it opened.

    SQLAlchemy closes an overflow connection the moment it comes back to a pool that holds
    ``pool_size`` idle ones, and opens another at the next burst: on PostgreSQL a new backend
    process and asyncpg's set-up each time. Under a steady load a little above the pool's
    size that churned 25 to 40 connections a second (``bench/cart.py``, 8 clients on one
    worker). A pool of size + burst without overflow opens connections as they are first
    needed, up to the same ceiling, and keeps them, so the connection budget
    (``Settings.db_connections_per_worker``) is unchanged.
    """
    return {"pool_size": size + burst, "max_overflow": 0}


class Database:
    """Owns the engine and hands out sessions: deferred ones for reads, locking ones for writes."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int | None = None,
        busy_timeout_ms: int = 30_000,
        ping_after_idle_s: float = PING_AFTER_IDLE_S,
    ) -> None:
        self.url = url
        self._pool_size = pool_size
        self._busy_timeout_s = busy_timeout_ms / 1000
        self.is_sqlite = url.startswith("sqlite")
        # Statement parameters (emails, hashes, codes) never reach error messages or logs.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {
                "timeout": min(busy_timeout_ms, _BUSY_SLICE_MS) / 1000,
                # A write transaction's statements run on the event loop's thread
                # (server.sqlite_driver); one connection is still used by one at a time.
                "check_same_thread": False,
            }
            # Reads: one trip to the driver's thread per statement; write transactions: on
            # the event loop's thread (server.sqlite_driver).
            kwargs["module"] = sqlite_dbapi()
        else:
            overflow = pool_size * 2 if max_overflow is None else max_overflow
            kwargs.update(_kept_pool(pool_size, overflow))
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._side_engine: AsyncEngine | None = None
        self._side_sessions: async_sessionmaker[AsyncSession] | None = None
        self._read_engine: AsyncEngine | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
            write_bind = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        else:
            write_bind = self.engine
            # A pool of its own for side transactions: an operation holding one of the main
            # pool's connections may wait for one of these, never the other way round, so a
            # burst that fills the main pool cannot deadlock on its own bookkeeping.
            self._side_engine = create_async_engine(
                url, echo=echo, hide_parameters=True, **_kept_pool(2, pool_size)
            )
            for engine in (self.engine, self._side_engine):
                _ping_when_idle(engine, ping_after_idle_s)
            self._side_sessions = async_sessionmaker(
                self._side_engine, expire_on_commit=False, autoflush=False
            )
        # One queue of SQLite writers per event loop (tests run several loops in one process).
        self._writer_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WriterTurns] = (
            weakref.WeakKeyDictionary()
        )
        self.read_sessions = async_sessionmaker(
            self.engine, class_=SerializedSession, expire_on_commit=False, autoflush=False
        )
        self.write_sessions = async_sessionmaker(
            write_bind, class_=SerializedSession, expire_on_commit=False, autoflush=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Build the database named by the settings, creating the data dir for SQLite."""
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )

    def session(self, *, write: bool = False) -> AsyncSession:
        """Return a new session; ``write=True`` takes SQLite's write lock when it begins."""
        return (self.write_sessions if write else self.read_sessions)()

    def operation_session(self, *, write: bool) -> AsyncSession:
        """Return the session of one GraphQL operation.

        A read-only operation on PostgreSQL runs on the autocommit engine
        (``autocommit_reads``): no BEGIN, no COMMIT, each statement its own snapshot, as
        READ COMMITTED gives each statement anyway. A dead pooled connection there fails
        that one operation and drops the pool's other old connections (no pre-ping). SQLite
        and writing operations get ``session(write=write)``.
        """
        if write or self.is_sqlite:
            return self.session(write=write)
        return SerializedSession(
            bind=self.autocommit_reads(), expire_on_commit=False, autoflush=False
        )

    @asynccontextmanager
    async def writer_turn(self) -> AsyncIterator[None]:
        """Wait in line, first come first served, for this process's turn to write to SQLite.

        SQLite lets one writer in at a time and makes the others poll its file lock with
        growing sleeps, which under contention turns into seconds of tail latency and lets
        one worker's queue starve another's. Writers of this process queue here instead,
        and the one at the front waits in the line shared by every omnicart process on the
        file (``server.writer_line``), held for exactly the write transaction: the lock is
        handed over the moment it is free, within a process and across processes. That
        wait is bounded by ``OMNICART_SQLITE_BUSY_TIMEOUT_MS``, then ``ServiceUnavailable``
        (try again). PostgreSQL needs no line: it locks rows.
        """
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        turns = self._writer_turns.get(loop)
        if turns is None:
            turns = self._writer_turns[loop] = _WriterTurns(WriterLine.for_url(self.url))
        task = asyncio.current_task()
        if turns.owner is task:
            raise RuntimeError("a write transaction was opened inside another one in the same task")
        await turns.lock.acquire()
        try:
            turns.owner = task
            turns.deadline = loop.time() + self._busy_timeout_s
            turns.held = await self._wait_in_line(turns)
            try:
                yield
            finally:
                turns.let_go()
        finally:
            turns.owner = None
            turns.lock.release()

    async def _wait_in_line(self, turns: _WriterTurns) -> int | None:
        """Take the lock of the line between processes, if there is one, before the deadline."""
        if turns.line is None:
            return None
        try:
            return await turns.line.take(turns.deadline - asyncio.get_running_loop().time())
        except TimeoutError as exc:
            raise ServiceUnavailable(_BUSY_MESSAGE) from exc

    async def lock_for_writing(self, session: AsyncSession) -> None:
        """SQLite: begin the write session's transaction now, waiting for the write lock.

        Inside ``writer_turn`` this process's turn and the line between omnicart processes
        are already taken, so BEGIN IMMEDIATE gets the lock at once, and it runs on the event
        loop's thread with the rest of the transaction (``server.sqlite_driver``). Only a
        writer outside that line (the ``sqlite3`` tool, a process without ``fcntl``) can
        still hold it: then BEGIN IMMEDIATE is tried again, on the driver's thread, every
        few milliseconds until what is left of ``OMNICART_SQLITE_BUSY_TIMEOUT_MS`` is spent,
        and the request answers ``ServiceUnavailable`` (try again), never a raw "database
        is locked".
        PostgreSQL: nothing to do (it locks rows).
        """
        if not self.is_sqlite:
            return
        loop = asyncio.get_running_loop()
        turns = self._writer_turns.get(loop)
        options: dict[str, Any] = {}
        if turns is not None and turns.owner is asyncio.current_task():
            deadline = turns.deadline
            if turns.held is not None:
                options[_SQLITE_LINE_HELD] = True
        else:
            deadline = loop.time() + self._busy_timeout_s
        while True:
            try:
                await session.connection(execution_options=options)
                return
            except OperationalError as exc:
                if not is_database_busy(exc):
                    raise
                await session.rollback()
                if loop.time() >= deadline:
                    raise ServiceUnavailable(_BUSY_MESSAGE) from exc
                # A writer outside the line holds the lock: wait for it off the loop.
                options = {}
                await asyncio.sleep(_BUSY_PAUSE_S)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """Run one unit of work: commit when the block succeeds, roll back when it raises."""
        async with contextlib.AsyncExitStack() as stack:
            if write:
                await stack.enter_async_context(self.writer_turn())
            session = await stack.enter_async_context(self.session(write=write))
            if write:
                await self.lock_for_writing(session)
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def side_transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """Run a short transaction of its own, committed whatever the caller's transaction does.

        For bookkeeping that must outlive the operation it serves (failed sign-ins, say). On
        PostgreSQL it runs on a small pool of its own (see ``__init__``). On SQLite it is an
        ordinary transaction: a write waits in the writer line and is refused inside another
        write transaction of the same task, since SQLite has one writer at a time.
        """
        if self._side_sessions is None:
            async with self.transaction(write=write) as session:
                yield session
            return
        async with self._side_sessions() as session, session.begin():
            yield session

    def autocommit_reads(self) -> AsyncEngine:
        """Return the PostgreSQL engine of read-only operations, made on first use.

        Autocommit (no BEGIN/COMMIT) and no pre-ping: each statement is its own snapshot,
        and a connection that died in the pool fails one operation (see
        ``operation_session``). Product pages are read beside it, straight on asyncpg
        (``server.page_reads``). It belongs to this database, so ``dispose`` closes it with
        the others.
        """
        if self.is_sqlite:
            raise RuntimeError(
                "SQLite has no autocommit read engine: operations read in sessions, product "
                "pages through the stdlib driver (server.page_reads)"
            )
        if self._read_engine is None:
            self._read_engine = create_async_engine(
                self.url,
                **_kept_pool(self._pool_size, self._pool_size),
                pool_pre_ping=False,
                isolation_level="AUTOCOMMIT",
                hide_parameters=True,
            )
        return self._read_engine

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._side_engine is not None:
            await self._side_engine.dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()
            self._read_engine = None


_Built = TypeVar("_Built")


def per_dialect(build: Callable[..., _Built]) -> Callable[..., _Built]:
    """Return ``build(session, *shape)``, run once per database dialect and shape, then kept.

    Hot write statements are built once, with bind parameters, instead of per request:
    building an expression and its cache key costs more than running the statement. Only
    the dialect (``upsert``, ``json_rows``) and a small hashable shape decide the statement,
    so a request binds values only.
    """
    built: dict[tuple[Any, ...], _Built] = {}

    def statement(session: AsyncSession, *shape: Any) -> _Built:
        key = (session.get_bind().dialect.name, *shape)
        found = built.get(key)
        if found is None:
            found = built[key] = build(session, *shape)
            _prepare_for_the_driver(found, session.get_bind().dialect)
        return found

    return statement


@dataclass(frozen=True, slots=True)
class _OnTheDriver:
    """A statement built once, compiled by the engine's own dialect for its driver."""

    statement: Any
    compiled: Any
    names: tuple[str, ...]  # its bind parameters, in the order of $1, $2 … (or ?, ? …)
    processors: Mapping[str, Callable[[Any], Any]]  # their types' bind processors, if any
    sqlite: bool


# Statements ``per_dialect`` built that ``rows_of`` runs straight on the driver, by identity
# (they live as long as the process, as ``per_dialect`` keeps them).
_ON_THE_DRIVER: dict[int, _OnTheDriver] = {}
_DRIVERS = ("asyncpg", "aiosqlite")


def _prepare_for_the_driver(statement: Any, dialect: Any) -> None:
    """Compile a statement ``per_dialect`` built, when ``rows_of`` can run it on the driver.

    Only what runs exactly as through SQLAlchemy is kept: no parameter expanded at execution
    (``IN`` lists), no bind names SQLAlchemy escapes, and no returned column whose type
    converts its values (an Enum, say), since its rows are handed over as the driver gives them.
    """
    if dialect.driver not in _DRIVERS or not hasattr(statement, "compile"):
        return
    columns = getattr(statement, "exported_columns", None)
    if columns is None:
        return
    for returned in columns:
        if returned.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
        return
    processors = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    names = tuple(compiled.positiontup or ())
    sqlite = dialect.name == "sqlite"
    _ON_THE_DRIVER[id(statement)] = _OnTheDriver(statement, compiled, names, processors, sqlite)


@dataclass(frozen=True, slots=True)
class _Begun:
    """The connection of a session's transaction, as ``rows_of`` uses it, kept for the next."""

    transaction: Any  # the session's SessionTransaction they belong to
    connection: AsyncConnection
    sync: Any  # its sync Connection
    adapted: Any  # SQLAlchemy's adapter of the driver's connection
    driver: Any  # the asyncpg or aiosqlite connection


_BEGUN = "omnicart_begun"


async def _begun(session: AsyncSession) -> _Begun:
    """Return the connection of the session's transaction, beginning it when it has none.

    Kept in the session's ``info`` for the transaction's later statements while it stays
    active on a valid connection: asking the session again costs a greenlet switch.
    """
    kept: _Begun | None = session.info.get(_BEGUN)
    transaction = session.sync_session.get_transaction()
    if (
        kept is not None
        and transaction is not None
        and kept.transaction is transaction
        and transaction.is_active
        and not kept.sync.invalidated
    ):
        return kept
    connection = await session.connection()
    sync = connection.sync_connection
    assert sync is not None, "a session's connection has its sync connection"
    fairy = sync.connection  # begun: the pooled connection, without any I/O
    begun = _Begun(
        session.sync_session.get_transaction(),
        connection,
        sync,
        fairy.dbapi_connection,
        fairy.driver_connection,
    )
    session.info[_BEGUN] = begun
    return begun


async def rows_of(session: AsyncSession, statement: Any, values: Mapping[str, Any]) -> list[Any]:
    """Run a statement in the session's transaction; return its rows (indexable tuples).

    A statement ``per_dialect`` built (the hot writes: a cart's version bump, its line
    upsert) runs straight on the driver's connection of the session's transaction, with the
    SQL SQLAlchemy's own dialect compiled for it once and its values bound as SQLAlchemy
    binds them. SQLAlchemy's execution around an already compiled statement (execution
    context, parameter and result processing, greenlet switches) cost some 120-170 µs of CPU
    a statement on PostgreSQL (``bench/cart.py``'s cart change spends two).

    * PostgreSQL: on asyncpg, whose own prepared-statement cache still prepares it once per
      connection, as SQLAlchemy's asyncpg adapter runs a statement: under the adapter's
      ``_execute_mutex``, after the BEGIN the adapter sends lazily before a transaction's
      first statement (``_transaction``, ``_start_transaction``).
    * SQLite: only inside a write transaction whose statements run on the event loop's
      thread (``server.sqlite_driver``), on the stdlib connection, as the driver runs them
      there; anywhere else it runs through the session. Its errors are wrapped as
      SQLAlchemy wraps them (``IntegrityError`` and the rest).

    Those are SQLAlchemy internals; the tests of refused cart changes, which must leave the
    version as it was, fail should they change. Listeners of the engine's
    ``before_cursor_execute`` and ``after_cursor_execute`` still hear it (with no cursor
    and no context), in a greenlet, as from SQLAlchemy. Anything else runs through the
    session. A ``SerializedSession`` runs it in its turn.
    """
    direct = _ON_THE_DRIVER.get(id(statement))
    if direct is None or direct.statement is not statement:
        return list(await session.execute(statement, values))
    lock = getattr(session, "_statement_lock", None)
    async with lock if lock is not None else contextlib.nullcontext():
        begun = await _begun(session)
        if direct.sqlite and not writes_on_the_loop(begun.adapted):
            # Not the session's override: this statement holds its turn already.
            return list(await AsyncSession.execute(session, statement, values))
        return await _run_on_the_driver(begun, direct, values)


async def _run_on_the_driver(
    begun: _Begun, direct: _OnTheDriver, values: Mapping[str, Any]
) -> list[Any]:
    bound = direct.compiled.construct_params(values)
    processors = direct.processors
    args = [
        processors[name](bound[name]) if name in processors else bound[name]
        for name in direct.names
    ]
    sql = direct.compiled.string
    sync = begun.sync
    dispatch = sync.dispatch
    heard = bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)
    if heard:
        await greenlet_spawn(dispatch.before_cursor_execute, sync, None, sql, args, None, False)
    try:
        if direct.sqlite:
            rows = run_on_the_loop(begun.adapted, sql, args)
        else:
            rows = await _fetch_on_asyncpg(begun, sql, args)
    except Exception as error:
        raised = _as_sqlalchemy_raises(begun, sql, args, error)
        if raised is error:
            raise
        raise raised from error
    if heard:
        await greenlet_spawn(dispatch.after_cursor_execute, sync, None, sql, args, None, False)
    return rows


def _as_sqlalchemy_raises(begun: _Begun, sql: str, args: list[Any], error: Exception) -> Exception:
    """Return the error SQLAlchemy raises for this driver error of a statement of its own.

    The adapter translates it into its DBAPI error (and, on asyncpg, forgets a transaction
    of a closed connection), then SQLAlchemy wraps that (``IntegrityError``, …), parameters
    hidden, noting a connection ``rows_of`` dropped.
    """
    dialect = begun.sync.dialect
    try:
        begun.adapted._handle_exception(error)
    except Exception as translated:
        error = translated
    if not isinstance(error, dialect.loaded_dbapi.Error):
        return error
    return DBAPIError.instance(  # type: ignore[no-any-return]
        sql,
        args,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=begun.sync.invalidated,
        dialect=dialect,
    )


async def _fetch_on_asyncpg(begun: _Begun, sql: str, args: list[Any]) -> list[Any]:
    adapted = begun.adapted
    # As SQLAlchemy's asyncpg adapter runs a statement: one at a time on its connection, and
    # the transaction it began lazily is sent (BEGIN) before the first one.
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
            return await begun.driver.fetch(sql, *args)  # type: ignore[no-any-return]
    except BaseException as error:
        if not isinstance(error, Exception) or is_lost_connection(error):
            # Cancelled (or cut off) midway, the connection may be in a transaction the
            # adapter does not know of (a BEGIN whose answer never came back): SQLAlchemy
            # drops a connection a statement of its own left so, and so is this one.
            await begun.connection.invalidate(error)
        raise
