"""The database layer: SQLite's write queue and sessions shared by sibling resolvers."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from server.db import Database
from server.models import Store


async def test_sqlite_writers_take_turns_in_arrival_order(sqlite_db: Database) -> None:
    order: list[str] = []

    async def writer(name: str, hold: float) -> None:
        async with sqlite_db.transaction() as session:
            order.append(f"{name} in")
            session.add(Store(code=name, name=name))
            await session.flush()
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(writer("A", 0.2))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(writer("B", 0))
    await asyncio.sleep(0.01)
    third = asyncio.create_task(writer("C", 0))
    await asyncio.gather(first, second, third)
    assert order == ["A in", "A out", "B in", "B out", "C in", "C out"]
    async with sqlite_db.transaction(write=False) as session:
        assert list((await session.execute(select(Store.code).order_by(Store.id))).scalars()) == [
            "A",
            "B",
            "C",
        ]


async def test_a_write_inside_a_write_of_the_same_task_is_refused(sqlite_db: Database) -> None:
    async with sqlite_db.transaction():
        with pytest.raises(RuntimeError, match="inside another one"):
            async with sqlite_db.transaction():
                pass


async def test_concurrent_statements_on_one_session_wait_their_turn(db: Database) -> None:
    async with db.transaction(write=False) as session:
        results = await asyncio.gather(*(session.execute(text(f"SELECT {i}")) for i in range(20)))
    assert [r.scalar_one() for r in results] == list(range(20))


async def test_a_side_transaction_commits_while_the_main_pool_is_held(db: Database) -> None:
    small = Database(db.url, pool_size=1)
    try:
        held = [small.session() for _ in range(3)]  # the whole main pool, on PostgreSQL
        for session in held:
            await session.begin()
            await session.execute(select(Store.id))
        async with asyncio.timeout(10):
            async with small.side_transaction() as side:
                side.add(Store(code="SIDE", name="Side"))
        for session in held:
            await session.rollback()
            await session.close()
        async with small.transaction(write=False) as session:
            codes = list((await session.execute(select(Store.code))).scalars())
    finally:
        await small.dispose()
    assert codes == ["SIDE"]


async def test_no_statement_parameter_reaches_an_error_message(db: Database) -> None:
    # Parameters are emails, token hashes, codes: an error (logged, perhaps reported) names
    # the statement but never what was bound, on every engine the database hands out.
    secret = "shopper-secret@example.test"
    failing = text("INSERT INTO no_such_table (email) VALUES (:email)")
    openers = [db.transaction, db.side_transaction]
    if not db.is_sqlite:
        openers.append(lambda: db.operation_session(write=False))
    for open_one in openers:
        with pytest.raises(Exception) as failed:
            async with open_one() as session:
                await session.execute(failing, {"email": secret})
        assert "no_such_table" in str(failed.value)
        assert secret not in str(failed.value), open_one
