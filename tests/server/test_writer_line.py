"""SQLite writers of several processes wait in one line, first come first served, without polling.

Another real process (``HOLDER``, the same ``Database`` code a worker runs) holds a write
transaction while writers of this process wait: a waiting writer begins its transaction
when the lock is handed to it, rather than trying BEGIN IMMEDIATE again and again;
a writer of the other process that came first writes before this process's next writers;
and a writer that gave up (the busy timeout) leaves nothing locked behind.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from server.db import Database
from server.errors import ServiceUnavailable
from server.models import Store
from server.outages import is_database_busy
from server.writer_line import WriterLine, database_file
from tests.engine_events import listening
from tests.live import ROOT, WAIT

# Reads commands from stdin, one a line: "hold CODE" opens a write transaction that adds the
# store CODE and answers "holding"; "release" commits it and answers "released"; "write CODE"
# waits in line, adds the store CODE and answers "wrote".
HOLDER = """
import asyncio, sys
from server.db import Database
from server.models import Store

async def main():
    db = Database(sys.argv[1])
    loop = asyncio.get_running_loop()
    held = None
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).split():
        if line[0] in ("hold", "write"):
            held = db.transaction()
            session = await held.__aenter__()
            session.add(Store(code=line[1], name=line[1]))
            await session.flush()
        if line[0] in ("release", "write"):
            await held.__aexit__(None, None, None)
        print({"hold": "holding", "release": "released", "write": "wrote"}[line[0]], flush=True)
    await db.dispose()

asyncio.run(main())
"""


class Holder:
    """A writer in another process, driven a command at a time."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    async def say(self, command: str, answer: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        got = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 3 * WAIT)
        assert got.strip() == answer


@contextmanager
def holder(db: Database) -> Iterator[Holder]:
    """Start another process writing to ``db``'s file; stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db.url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield Holder(process)
    finally:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        process.wait(WAIT)
        process.stdout.close()


@contextmanager
def counted_busy_answers(db: Database) -> Iterator[list[int]]:
    """Count the statements of ``db`` that SQLite refused as busy (each a BEGIN to try again)."""
    busy = [0]

    def count(context: Any) -> None:
        busy[0] += is_database_busy(context.original_exception)

    with listening(db, "handle_error", count):
        yield busy


async def write_store(db: Database, code: str) -> list[str]:
    """Add the store ``code`` in a write transaction; return the codes it saw before."""
    async with db.transaction() as session:
        seen = sorted((await session.execute(select(Store.code))).scalars().all())
        session.add(Store(code=code, name=code))
    return seen


def someone_waits_in_line(db: Database) -> bool:
    """Tell whether a writer holds the line's queue (it waits at the front for the lock)."""
    path = database_file(db.url)
    assert path is not None
    fd = os.open(path + "-writer.queue", os.O_RDONLY | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def until_someone_waits_in_line(db: Database) -> None:
    deadline = time.monotonic() + 3 * WAIT
    while not someone_waits_in_line(db):
        assert time.monotonic() < deadline, "no writer of the other process waits in line"
        await asyncio.sleep(0.01)


async def test_a_writer_waiting_for_another_process_begins_when_handed_the_lock(
    sqlite_db: Database,
) -> None:
    with holder(sqlite_db) as other, counted_busy_answers(sqlite_db) as busy:
        await other.say("hold OTHER", "holding")
        waiting = asyncio.create_task(write_store(sqlite_db, "MINE"))
        # Long enough for a writer that polls SQLite's lock to be refused many times (every
        # ~20 ms); what is checked is that count, not the time.
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await other.say("release", "released")
        seen = await waiting
    assert seen == ["OTHER"]
    assert busy == [0]  # its BEGIN IMMEDIATE was never refused, so never tried again


async def test_a_writer_of_another_process_that_came_first_writes_before_this_ones_next(
    sqlite_db: Database,
) -> None:
    with holder(sqlite_db) as other:
        async with sqlite_db.transaction() as session:
            session.add(Store(code="FIRST", name="First"))
            await session.flush()
            other_writes = asyncio.create_task(other.say("write OTHER", "wrote"))
            await until_someone_waits_in_line(sqlite_db)
            # This process's next writers queue behind the other process's writer: the
            # line's lock is handed to it when this write ends, not kept for them.
            mine = [asyncio.create_task(write_store(sqlite_db, f"MINE{i}")) for i in range(3)]
            await asyncio.sleep(0)
        seen = await asyncio.gather(*mine)
        await other_writes
    assert seen == [
        ["FIRST", "OTHER"],
        ["FIRST", "MINE0", "OTHER"],
        ["FIRST", "MINE0", "MINE1", "OTHER"],
    ]


async def test_a_writer_that_gave_up_leaves_nothing_locked(sqlite_db: Database) -> None:
    impatient = Database(sqlite_db.url, busy_timeout_ms=1)
    try:
        with holder(sqlite_db) as other:
            await other.say("hold OTHER", "holding")
            with pytest.raises(ServiceUnavailable) as refused:
                await write_store(impatient, "MINE")
            assert refused.value.retryable
            assert "try again" in str(refused.value)
            await other.say("release", "released")
            # Its place in line was let go when the lock came: the other process writes
            # again, and so does this one.
            await other.say("write AGAIN", "wrote")
            assert await write_store(impatient, "LATER") == ["AGAIN", "OTHER"]
    finally:
        await impatient.dispose()


def test_a_database_in_memory_has_no_line(tmp_path: Path) -> None:
    assert WriterLine.for_url("sqlite+aiosqlite://") is None
    assert WriterLine.for_url("sqlite+aiosqlite:///:memory:") is None
    assert WriterLine.for_url("sqlite+aiosqlite:///file:x?mode=memory&uri=true") is None
    line = WriterLine.for_url(f"sqlite+aiosqlite:///{tmp_path}/shop.db")
    assert line is not None
    assert line.lock_path == f"{tmp_path.resolve()}/shop.db-writer.lock"


async def test_a_database_in_memory_takes_writes_without_a_line() -> None:
    db = Database("sqlite+aiosqlite://")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE notes (body TEXT)"))
            await session.execute(text("INSERT INTO notes VALUES ('kept')"))
            notes = (await session.execute(text("SELECT body FROM notes"))).scalars().all()
        assert notes == ["kept"]
    finally:
        await db.dispose()
