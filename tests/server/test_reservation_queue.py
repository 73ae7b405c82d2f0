"""A worker's reservations at a location on PostgreSQL take turns: in order, few at the rows.

A transaction of the test's own locks the stock row first, so every reservation queues
behind it; PostgreSQL's ``pg_stat_activity`` shows how many of them wait on a lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.db import Database
from server.models import utcnow
from server.orders import stock
from server.orders.reservation_queue import AT_THE_ROWS
from tests.rows import store_with_product
from tests.stock_helpers import level

_WAITING_ON_LOCKS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@asynccontextmanager
async def row_locked(db: Database, location_id: int) -> AsyncIterator[None]:
    """Hold the location's stock rows locked (as a checkout committing slowly would)."""
    async with db.transaction() as session:
        await session.execute(
            text("SELECT 1 FROM stock_levels WHERE location_id = :l FOR UPDATE"),
            {"l": location_id},
        )
        yield


async def waiting_on_locks(db: Database) -> int:
    """Return how many of the database's sessions wait on a lock right now."""
    async with db.transaction(write=False) as session:
        return int(await session.scalar(_WAITING_ON_LOCKS) or 0)


def waiting(db: Database, n: int) -> Callable[[], Awaitable[bool]]:
    """Return a check that ``n`` sessions wait on a lock."""

    async def check() -> bool:
        return await waiting_on_locks(db) == n

    return check


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until it holds; a turn never handed on fails the test after 60 s."""
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, "the next reservation never reached the rows"
        await asyncio.sleep(0.02)


async def queued(reservations: list[asyncio.Task[None]], make: Awaitable[None]) -> None:
    """Start a reservation and let it run up to its wait (it makes no I/O before its turn)."""
    reservations.append(asyncio.ensure_future(make))
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.fixture
def postgres(db: Database) -> Database:
    """The database, PostgreSQL only: SQLite's writers queue in the writer line instead."""
    if db.is_sqlite:
        pytest.skip("SQLite reservations run inside the writer line")
    return db


async def test_reservations_of_a_worker_take_turns_in_line_two_waiting_on_the_rows(
    postgres: Database,
) -> None:
    db = postgres
    _, location, _, product_id = await store_with_product(db, on_hand=100)
    done: list[int] = []

    async def reserve(n: int) -> None:
        async with db.transaction() as session:
            assert await stock.reserve(session, location, {product_id: n}, utcnow()) == []
            # Its statement returned: it holds the rows, the one before it has committed.
            done.append(n)

    tasks: list[asyncio.Task[None]] = []
    async with row_locked(db, location):
        for n in range(1, 9):
            await queued(tasks, reserve(n))
            if n <= AT_THE_ROWS:
                await until(waiting(db, n))  # in PostgreSQL's queue, in this order
        await asyncio.sleep(0.2)
        # Eight reservations, two at the rows; without the turns all eight wait there.
        assert await waiting_on_locks(db) == AT_THE_ROWS == 2
        assert done == []
    await asyncio.gather(*tasks)
    # A reservation reaches the rows only after all but one of those before it in line have
    # reserved, so none overtakes more than one: the two at the rows are PostgreSQL's to
    # order, and it may pass over the same waiter more than once (a CI run saw 2 finish 5th).
    assert sorted(done) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert max(n - (place + 1) for place, n in enumerate(done)) <= AT_THE_ROWS - 1
    assert await level(db, location, product_id) == (100, 36)


async def test_a_reservation_that_fails_or_is_cancelled_hands_its_turn_on(
    postgres: Database,
) -> None:
    db = postgres
    _, location, _, product_id = await store_with_product(db, on_hand=100)

    async def reserve(units: int, *, timeout_ms: int | None = None) -> None:
        async with db.transaction() as session:
            if timeout_ms is not None:
                await session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}"))
            assert await stock.reserve(session, location, {product_id: units}, utcnow()) == []

    tasks: list[asyncio.Task[None]] = []
    async with row_locked(db, location):
        # At the rows: one whose statement times out, one cancelled there; in line: one
        # cancelled while it waits for its turn, then two that get theirs.
        await queued(tasks, reserve(1, timeout_ms=300))
        await until(waiting(db, 1))
        await queued(tasks, reserve(2))
        await until(waiting(db, 2))
        for units in (4, 8, 16):
            await queued(tasks, reserve(units))
        failing, at_rows, in_line, *_ = tasks
        in_line.cancel()
        with pytest.raises(DBAPIError, match="statement timeout"):
            await failing
        await until(waiting(db, 2))  # the 8 took the failed one's turn
        at_rows.cancel()
        await asyncio.gather(at_rows, return_exceptions=True)
        await until(waiting(db, 2))  # the 16 took the cancelled one's
    await asyncio.gather(*tasks[3:])
    assert [in_line.cancelled(), at_rows.cancelled()] == [True, True]
    assert await level(db, location, product_id) == (100, 24)
