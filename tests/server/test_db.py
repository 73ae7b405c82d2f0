"""The database layer: SQLite's write queue and sessions shared by sibling resolvers."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from sqlalchemy import Insert, Table, bindparam, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, per_dialect, rows_of
from server.models import Store
from tests.engine_events import cursors_seen
from tests.rows import store_codes


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


@per_dialect
def _new_store(session: AsyncSession) -> Insert:
    stores = cast(Table, Store.__table__)
    return (
        insert(stores)
        .values(code=bindparam("code"), name=bindparam("name"))
        .returning(stores.c.id, stores.c.code)
    )


async def test_a_built_write_runs_on_the_driver_inside_a_write_transaction_only(
    db: Database,
) -> None:
    """``rows_of``: on the driver in a write transaction (each statement of it, and again in
    the session's next transaction); on SQLite through the session in a read transaction."""
    with cursors_seen(db) as seen:
        async with db.transaction() as session:
            first = await rows_of(session, _new_store(session), {"code": "A", "name": "A"})
            second = await rows_of(session, _new_store(session), {"code": "B", "name": "B"})
        async with db.transaction(write=False) as session:
            third = await rows_of(session, _new_store(session), {"code": "C", "name": "C"})
        async with db.session(write=True) as session:
            for code in ("D", "E"):  # two transactions of one session
                await db.lock_for_writing(session)
                await rows_of(session, _new_store(session), {"code": code, "name": code})
                await session.commit()
    assert [row[1] for row in (*first, *second, *third)] == ["A", "B", "C"]
    assert first[0][0] < second[0][0] < third[0][0]
    inserts = [no_cursor for verb, no_cursor in seen if verb == "INSERT"]
    assert inserts == [True, True, not db.is_sqlite, True, True]
    assert await store_codes(db) == ["A", "B", "C", "D", "E"]


async def test_a_built_write_the_database_refuses_raises_as_sqlalchemy_and_leaves_nothing(
    db: Database,
) -> None:
    secret = "shopper-secret-code"
    async with db.transaction() as session:
        await rows_of(session, _new_store(session), {"code": secret, "name": "First"})
    with pytest.raises(IntegrityError) as refused:
        async with db.transaction() as session:
            await rows_of(session, _new_store(session), {"code": "NEW", "name": "New"})
            await rows_of(session, _new_store(session), {"code": secret, "name": "Again"})
    assert "stores" in str(refused.value)
    assert secret not in str(refused.value)
    assert await store_codes(db) == [secret]
    # The connection the refusal came back on serves the next write as before.
    async with db.transaction() as session:
        await rows_of(session, _new_store(session), {"code": "LATER", "name": "Later"})
    assert await store_codes(db) == sorted([secret, "LATER"])


async def test_closing_a_session_ends_what_it_holds_whether_its_transaction_ended_or_not(
    db: Database,
) -> None:
    async with db.transaction() as session:
        session.add(Store(code="KEPT", name="Kept"))
    open_one = db.session(write=True)
    await db.lock_for_writing(open_one)
    open_one.add(Store(code="UNSAVED", name="Unsaved"))
    await open_one.flush()
    await open_one.close()  # its transaction was open: rolled back, connection back
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    ended = db.session(write=False)
    store = (await ended.execute(select(Store).where(Store.code == "KEPT"))).scalar_one()
    await ended.commit()
    await ended.close()  # ended already: its objects let go, without I/O
    assert sa_inspect(store).detached
    assert await store_codes(db) == ["KEPT"]
