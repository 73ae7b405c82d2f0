"""Where SQLite statements run: a write transaction on the event loop's thread, reads off it.

Each statement is traced by SQLite itself (the connection's trace callback, called on the
thread that runs it). A write transaction that holds the line between omnicart processes
runs from BEGIN IMMEDIATE to COMMIT on the event loop's thread, so no other coroutine
runs in between while it holds the write lock; reads keep running on aiosqlite's thread,
and a writer outside the line (a plain ``sqlite3`` connection here) is waited for there.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.util import await_only, greenlet_spawn

from server.db import Database
from server.sqlite_driver import begin_on_the_loop


@contextmanager
def traced(tmp_path: Path) -> Iterator[tuple[Database, list[tuple[str, int]]]]:
    """Yield a database on a new file and the (statement, thread id) of each it runs."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}")
    runs: list[tuple[str, int]] = []

    def trace(statement: str) -> None:
        runs.append((statement.split("\n")[0], threading.get_ident()))

    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        await_only(record.driver_connection.set_trace_callback(trace))

    event.listen(db.engine.sync_engine, "connect", on_connect)
    yield db, runs


async def make_table(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))


async def test_a_write_transaction_runs_on_the_loop_and_a_read_off_it(tmp_path: Path) -> None:
    with traced(tmp_path) as (db, runs):
        try:
            await make_table(db)
            loop_thread = threading.get_ident()
            runs.clear()
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO notes (body) VALUES ('written')"))
                await session.execute(text("SELECT count(*) FROM notes"))
            written = list(runs)
            runs.clear()
            async with db.transaction(write=False) as session:
                await session.execute(text("SELECT body FROM notes"))
            read = list(runs)
        finally:
            await db.dispose()
    assert [statement for statement, _ in written] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO notes (body) VALUES ('written')",
        "SELECT count(*) FROM notes",
        "COMMIT",
    ]
    assert {thread for _, thread in written} == {loop_thread}
    assert [statement for statement, _ in read] == [
        "BEGIN DEFERRED",
        "SELECT body FROM notes",
        "COMMIT",
    ]
    assert loop_thread not in {thread for _, thread in read}


async def test_a_writer_outside_the_line_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    with traced(tmp_path) as (db, runs):
        try:
            await make_table(db)
            loop_thread = threading.get_ident()
            outsider = sqlite3.connect(tmp_path / "traced.db", isolation_level=None)
            outsider.execute("BEGIN IMMEDIATE")
            asyncio.get_running_loop().call_later(0.3, outsider.commit)
            runs.clear()
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO notes (body) VALUES ('after')"))
            written = list(runs)
            outsider.close()
            async with db.transaction(write=False) as session:
                bodies = (await session.execute(text("SELECT body FROM notes"))).scalars().all()
        finally:
            await db.dispose()
    begins = [thread for statement, thread in written if statement == "BEGIN IMMEDIATE"]
    # The first try, on the loop, is refused (busy) within one short busy slice; the tries
    # after it wait on the driver's thread until the outsider commits.
    assert len(begins) >= 2
    assert begins[0] == loop_thread
    assert loop_thread not in begins[1:]
    rest = [(statement, thread) for statement, thread in written if statement != "BEGIN IMMEDIATE"]
    assert rest == [
        ("INSERT INTO notes (body) VALUES ('after')", loop_thread),
        ("COMMIT", loop_thread),
    ]
    assert bodies == ["after"]


async def test_the_loop_never_overtakes_a_statement_still_queued_on_the_thread(
    tmp_path: Path,
) -> None:
    """A statement whose caller was cancelled still runs on the driver's thread; a write
    transaction that begins on the same connection meanwhile waits behind it there."""
    with traced(tmp_path) as (db, runs):
        try:
            await make_table(db)
            loop_thread = threading.get_ident()
            started = threading.Event()

            def slow() -> int:
                started.set()
                time.sleep(0.3)
                return 1

            async with db.engine.connect() as connection:
                adapted = (await connection.get_raw_connection()).dbapi_connection
                assert adapted is not None
                await greenlet_spawn(adapted.create_function, "slow", 0, slow)
                runs.clear()

                def run(statement: str) -> None:
                    cursor = adapted.cursor()
                    cursor.execute(statement)
                    cursor.close()

                abandoned = asyncio.create_task(greenlet_spawn(run, "SELECT slow()"))
                await asyncio.to_thread(started.wait, 5)
                abandoned.cancel()  # its statement goes on running on the thread
                with contextlib.suppress(asyncio.CancelledError):
                    await abandoned

                begin_on_the_loop(adapted)
                for statement in ("BEGIN IMMEDIATE", "INSERT INTO notes (body) VALUES ('x')"):
                    await greenlet_spawn(run, statement)
                await greenlet_spawn(adapted.commit)
                written = list(runs)
        finally:
            await db.dispose()
    assert [statement for statement, _ in written] == [
        "SELECT slow()",
        "BEGIN IMMEDIATE",
        "INSERT INTO notes (body) VALUES ('x')",
        "COMMIT",
    ]
    threads = [thread for _, thread in written]
    # The BEGIN queued behind the abandoned statement on the driver's thread; once it was
    # done the transaction's other statements ran on the loop.
    assert threads[0] != loop_thread and threads[1] == threads[0]
    assert threads[2:] == [loop_thread, loop_thread]
