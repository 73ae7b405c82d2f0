"""A pooled PostgreSQL connection is pinged only after it sat idle, in one round trip.

SQLAlchemy's pre-ping cost three round trips on every transaction. ``Database`` pings a
connection only when it comes out of the pool after ``ping_after_idle_s`` or more: one that
died meanwhile (here its backend is terminated from outside) is replaced before any
statement runs, and one back sooner is used as it is, so a death within that time fails
one operation as an outage and the pool starts afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.db import Database
from server.outages import as_unavailable

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def _one_connection(url: str, ping_after_idle_s: float) -> AsyncIterator[Database]:
    """A database on ``url`` whose write pool holds one connection, so each use reuses it."""
    db = Database(url, pool_size=1, max_overflow=0, ping_after_idle_s=ping_after_idle_s)
    try:
        yield db
    finally:
        await db.dispose()


async def _backend_of(db: Database) -> int:
    """Run a write transaction; return the PostgreSQL backend that served it."""
    async with db.transaction() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(db: Database, pid: int) -> None:
    url = make_url(db.url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        # With a timeout (ms) it returns once the backend is gone, not when signalled.
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid) is True
    finally:
        await admin.close()


async def test_a_connection_idle_past_the_ping_time_is_checked_and_a_dead_one_replaced(
    shared_postgres: Database,
) -> None:
    async with _one_connection(shared_postgres.url, 0.05) as db:
        first = await _backend_of(db)
        await asyncio.sleep(0.1)
        assert await _backend_of(db) == first  # alive: the ping passed, the same connection

        await _terminate(db, first)
        await asyncio.sleep(0.1)
        replaced = await _backend_of(db)  # no error: the ping found it dead first
    assert replaced != first


async def test_a_connection_back_within_the_ping_time_is_used_unpinged(
    shared_postgres: Database,
) -> None:
    async with _one_connection(shared_postgres.url, 60) as db:
        first = await _backend_of(db)
        await _terminate(db, first)
        # Not pinged: the dead connection fails this one operation, as an outage …
        with pytest.raises(Exception) as failed:
            await _backend_of(db)
        assert as_unavailable(failed.value) is not None, failed.value
        # … and the pool starts afresh for the next.
        replaced = await _backend_of(db)
    assert replaced != first
