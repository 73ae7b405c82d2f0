"""Reading product pages on the scan path: one statement, one hop, no ORM objects.

A page read is one statement keyed by the scanned barcode: the page's document, whether a
change of the product is still pending in the outbox, and its live stock in every store and
online. On SQLite it runs with the standard library's driver on a small pool of threads, each
with its own connection (the database is in WAL mode, so readers never wait for the writer),
and the whole read, decoding included, is one hand-off to that thread. On PostgreSQL it runs
as a prepared statement straight on asyncpg, on a few connections of its own in autocommit,
so a read sends the statement and nothing else (no BEGIN, no COMMIT, no pre-ping).

A product with a change pending, or without a page yet (just created, or a database not yet
drained after upgrading), is read from the catalog tables instead
(``server.product_pages.read_from_catalog``); an unknown barcode answers None.

A product's alternatives are one statement too: its candidates as ranked at index time
(``server.alternatives``), ordered by live stock at the store and online, each with its page
and stock like a page read.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from server.config import PAGE_READ_CONNECTIONS
from server.db import Database
from server.outbox import pending_change
from server.product_pages import PageRead, StoreView, decode_page

_PENDING = pending_change("p.product_id")
# One row: product id, document, pending flag, stores as JSON [[id, code, name, address,
# city, on_hand - reserved], ...], available online (the first online location).
_COLUMNS_SQLITE = f"""
SELECT p.product_id, p.document,
  {_PENDING} AS pending,
  (SELECT json_group_array(json_array(s.id, s.code, s.name, s.address, s.city,
                                      COALESCE(sl.on_hand - sl.reserved, 0)))
     FROM stores s
     LEFT JOIN stock_locations l ON l.store_id = s.id AND l.online = 0
     LEFT JOIN stock_levels sl ON sl.location_id = l.id AND sl.product_id = p.product_id
  ) AS stores,
  (SELECT sl.on_hand - sl.reserved FROM stock_locations l
     JOIN stock_levels sl ON sl.location_id = l.id AND sl.product_id = p.product_id
    WHERE l.online = 1 ORDER BY l.id LIMIT 1) AS online
"""

_PAGE_SQLITE = (
    _COLUMNS_SQLITE
    + """FROM product_barcodes b JOIN product_pages p ON p.product_id = b.product_id
WHERE b.gtin = ?
"""
)

# Pages by product id (search hits, cart lines, order lines), with their stock like above.
_BY_IDS_SQLITE = (
    _COLUMNS_SQLITE
    + """FROM product_pages p WHERE p.product_id IN (SELECT value FROM json_each(?))
"""
)

# A product's precomputed candidates (server.alternatives) ordered by live stock at the
# store, then online, then their stored position, each read as a page row like the above.
# The parent tier counts only while the product's own category has fewer than asked for.
_RANKED_SQLITE = """
WITH ranked AS (
  SELECT a.candidate_id, a.tier, a.position,
    EXISTS (SELECT 1 FROM stock_locations l JOIN stock_levels sl ON sl.location_id = l.id
            WHERE l.store_id = :store AND l.online = 0 AND sl.product_id = a.candidate_id
              AND sl.on_hand - sl.reserved > 0) AS here,
    EXISTS (SELECT 1 FROM stock_locations l JOIN stock_levels sl ON sl.location_id = l.id
            WHERE l.online = 1 AND sl.product_id = a.candidate_id
              AND sl.on_hand - sl.reserved > 0) AS web
  FROM product_alternatives a JOIN product_pages q ON q.product_id = a.candidate_id
  WHERE a.product_id = :product
    AND (a.tier = 0 OR (SELECT count(*) FROM product_alternatives c
                        WHERE c.product_id = :product AND c.tier = 0) < :first)
  ORDER BY a.tier, here DESC, web DESC, a.position LIMIT :first
)
"""

_ALTERNATIVES_SQLITE = (
    _RANKED_SQLITE
    + _COLUMNS_SQLITE
    + """FROM ranked JOIN product_pages p ON p.product_id = ranked.candidate_id
ORDER BY ranked.tier, ranked.here DESC, ranked.web DESC, ranked.position
"""
)

_COLUMNS_POSTGRES = f"""
SELECT p.product_id, p.document,
  {_PENDING} AS pending,
  (SELECT COALESCE(json_agg(json_build_array(s.id, s.code, s.name, s.address, s.city,
                                             COALESCE(sl.on_hand - sl.reserved, 0))), '[]')
     FROM stores s
     LEFT JOIN stock_locations l ON l.store_id = s.id AND NOT l.online
     LEFT JOIN stock_levels sl ON sl.location_id = l.id AND sl.product_id = p.product_id
  )::text AS stores,
  (SELECT sl.on_hand - sl.reserved FROM stock_locations l
     JOIN stock_levels sl ON sl.location_id = l.id AND sl.product_id = p.product_id
    WHERE l.online ORDER BY l.id LIMIT 1) AS online
"""

_PAGE_POSTGRES = text(
    _COLUMNS_POSTGRES
    + """FROM product_barcodes b JOIN product_pages p ON p.product_id = b.product_id
WHERE b.gtin = :gtin
"""
)

_BY_IDS_POSTGRES = text(
    _COLUMNS_POSTGRES
    + """FROM product_pages p WHERE p.product_id IN (
  SELECT CAST(value AS INTEGER) FROM json_array_elements_text(CAST(:ids AS json)))
"""
)

_ALTERNATIVES_POSTGRES = text(
    _RANKED_SQLITE.replace("l.online = 0", "NOT l.online")
    .replace("l.online = 1", "l.online")
    .replace(":store", "CAST(:store AS INTEGER)")
    + _COLUMNS_POSTGRES
    + """FROM ranked JOIN product_pages p ON p.product_id = ranked.candidate_id
ORDER BY ranked.tier, ranked.here DESC, ranked.web DESC, ranked.position
"""
)

# A page found (None: no page row for the barcode) and whether a change is pending.
Found = tuple[PageRead | None, bool]
# An alternative: its product id and its page (None: a change of it is pending).
Alternative = tuple[int, PageRead | None]


def decode_alternatives(rows: Iterable[Any]) -> list[Alternative]:
    """Return the alternatives the alternatives statement's rows describe, in order."""
    return [(row[0], decode_row(row)[0]) for row in rows]


def clean_pages(rows: Iterable[Any]) -> dict[int, PageRead]:
    """Return the pages of the rows by product id, leaving out those with a change pending."""
    found = {}
    for row in rows:
        read = decode_row(row)[0]
        if read is not None:
            found[row[0]] = read
    return found


def decode_row(row: Any) -> Found:
    """Return the page a page-statement row describes, and whether a change is pending."""
    if row is None:
        return None, False
    _, document, pending, stores_json, online = row
    if pending:
        return None, True
    stores = [
        (StoreView(sid, code, name, address, city), max(available, 0))
        for sid, code, name, address, city, available in json.loads(stores_json)
    ]
    # Every store, ordered by name (as catalog.list_stores orders them).
    stores.sort(key=lambda entry: (entry[0].name, entry[0].id))
    read = PageRead(decode_page(document), tuple(stores), max(online or 0, 0))
    return read, False


class SqlitePageReads:
    """Page reads on SQLite: the stdlib driver on a few threads, one hand-off per read."""

    def __init__(
        self,
        path: str,
        *,
        threads: int = 2,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        self._path = path
        self._trace = trace
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="page-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Autocommit: each read is its own implicit transaction, nothing is left open.
            conn = sqlite3.connect(
                self._path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = ON")
            if self._trace is not None:
                conn.set_trace_callback(self._trace)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _read(self, digits: str) -> Found:
        row = self._connection().execute(_PAGE_SQLITE, (digits,)).fetchone()
        return decode_row(row)

    async def read(self, digits: str) -> Found:
        """Return the page for canonical GTIN ``digits`` and whether a change is pending."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, digits)

    def _by_ids(self, ids: str) -> dict[int, PageRead]:
        return clean_pages(self._connection().execute(_BY_IDS_SQLITE, (ids,)))

    async def by_ids(self, product_ids: Iterable[int]) -> dict[int, PageRead]:
        """Return the clean pages of these products (none for a pending change or no page)."""
        ids = json.dumps(sorted(set(product_ids)))
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._by_ids, ids)

    def _alternatives(self, product_id: int, store_id: int | None, first: int) -> list[Alternative]:
        params = {"product": product_id, "store": store_id, "first": first}
        return decode_alternatives(self._connection().execute(_ALTERNATIVES_SQLITE, params))

    async def alternatives(
        self, product_id: int, store_id: int | None, first: int
    ) -> list[Alternative]:
        """Return up to ``first`` alternatives of a product for a store, best first."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._alternatives, product_id, store_id, first
        )

    async def close(self) -> None:
        """Stop the threads and close their connections."""
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


# Errors of a connection that died while pooled (a server restart, a terminated backend:
# asyncpg then finds its protocol in the middle of the notice it got while idle).
_DEAD_CONNECTION = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)


def _positional(statement: TextClause) -> tuple[str, tuple[str, ...]]:
    """Return a statement as asyncpg takes it (``$1``…), compiled once by SQLAlchemy's own
    asyncpg dialect, and its parameter names in order."""
    compiled = statement.compile(dialect=PGDialect_asyncpg())
    return compiled.string, tuple(compiled.positiontup or ())


_PAGE_ASYNCPG = _positional(_PAGE_POSTGRES)
_BY_IDS_ASYNCPG = _positional(_BY_IDS_POSTGRES)
_ALTERNATIVES_ASYNCPG = _positional(_ALTERNATIVES_POSTGRES)


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """A read connection holds no state between reads (autocommit, one statement each)."""


@dataclass
class _LoopPool:
    """The read connections of one event loop (tests run several loops in one process)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pool: asyncpg.Pool | None = None


class PostgresPageReads:
    """Page reads on PostgreSQL: one prepared statement on a few asyncpg connections of their own.

    The shop's hottest reads skip SQLAlchemy: through an engine a page read cost this process
    about 850 µs of CPU, through asyncpg's pool about 260 µs. The statements are the ones
    SQLAlchemy's asyncpg dialect compiles, once. Each read is one statement in autocommit (no
    BEGIN, no COMMIT), so a connection carries nothing from one read to the next and the pool
    resets nothing when it comes back (asyncpg's default reset is a round trip). A connection
    that died in the pool fails its read, which is tried once more after the pool let its
    other old connections go.
    """

    def __init__(self, url: str, *, trace: Callable[[str], None] | None = None) -> None:
        _, self._connect_args = PGDialect_asyncpg().create_connect_args(make_url(url))
        self._trace = trace
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
            weakref.WeakKeyDictionary()
        )

    async def _init(self, connection: asyncpg.Connection) -> None:
        trace = self._trace
        if trace is not None:
            connection.add_query_logger(lambda record: trace(record.query))

    async def _pool(self) -> asyncpg.Pool:
        entry = self._pools.setdefault(asyncio.get_running_loop(), _LoopPool())
        if entry.pool is None:
            async with entry.lock:
                if entry.pool is None:
                    entry.pool = await asyncpg.create_pool(
                        min_size=1,
                        max_size=PAGE_READ_CONNECTIONS,
                        reset=_nothing_to_reset,
                        init=self._init,
                        **self._connect_args,
                    )
        return entry.pool

    async def _fetch(self, statement: tuple[str, tuple[str, ...]], **params: Any) -> list[Any]:
        sql, names = statement
        args = [params[name] for name in names]
        pool = await self._pool()
        try:
            return await pool.fetch(sql, *args)
        except _DEAD_CONNECTION:
            # The others are likely as old: every one is replaced before its next read.
            await pool.expire_connections()
            return await pool.fetch(sql, *args)

    async def read(self, digits: str) -> Found:
        """Return the page for canonical GTIN ``digits`` and whether a change is pending."""
        rows = await self._fetch(_PAGE_ASYNCPG, gtin=digits)
        return decode_row(rows[0] if rows else None)

    async def alternatives(
        self, product_id: int, store_id: int | None, first: int
    ) -> list[Alternative]:
        """Return up to ``first`` alternatives of a product for a store, best first."""
        rows = await self._fetch(
            _ALTERNATIVES_ASYNCPG, product=product_id, store=store_id, first=first
        )
        return decode_alternatives(rows)

    async def by_ids(self, product_ids: Iterable[int]) -> dict[int, PageRead]:
        """Return the clean pages of these products (none for a pending change or no page)."""
        rows = await self._fetch(_BY_IDS_ASYNCPG, ids=json.dumps(sorted(set(product_ids))))
        return clean_pages(rows)

    async def close(self) -> None:
        """Close this loop's connections; those of loops already gone are dropped."""
        loop = asyncio.get_running_loop()
        for owner, entry in list(self._pools.items()):
            if entry.pool is None:
                continue
            if owner is loop:
                await entry.pool.close()
            else:
                entry.pool.terminate()
        self._pools.clear()


PageReads = SqlitePageReads | PostgresPageReads


def page_reads_for(db: Database, *, trace: Callable[[str], None] | None = None) -> PageReads | None:
    """Return the page reader for a database; None for an in-memory SQLite database.

    ``trace`` is handed the text of every statement the reader sends (tests count them).
    """
    parsed = make_url(db.url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None
        return SqlitePageReads(parsed.database, trace=trace)
    return PostgresPageReads(db.url, trace=trace)
