"""The line that SQLite writers of several omnicart processes wait in, first come first served.

SQLite lets one writer in at a time and makes the others poll its lock: a waiting writer
retries after growing sleeps, so the lock goes late, and to whichever writer happens to try
at the right moment. With two workers, the worker whose own queue is long keeps handing the
lock to its next writer in-process while the other worker's writer sleeps between tries.

Writers of omnicart processes therefore wait on two OS file locks (``flock``) beside the
database file instead, taken in this order:

* ``<database>-writer.queue``: held by the one writer that waits for the lock;
* ``<database>-writer.lock``: held for exactly one write transaction.

A writer takes the queue, then the lock, then lets the queue go. So whoever holds the lock
hands it, the moment it lets go, to the one writer waiting at the front (the kernel wakes it;
nobody polls), and a newcomer cannot barge in past that writer: it waits for the queue
first. Each process sends one writer at a time (``Database.writer_turn`` queues the others
in-process), so two workers with long queues take turns. ``flock`` locks belong to an open
file, so two databases opened by one process (tests, a CLI next to the app) wait for each
other too; a process that dies lets its locks go with its files.

Waiting happens in a thread of its own, which cannot be interrupted: a writer that gives up
(``OMNICART_SQLITE_BUSY_TIMEOUT_MS``) leaves its place in line to the next writer of its
process, and when nobody takes the place up the lock is let go at once. Writers that are not
omnicart processes (the ``sqlite3`` tool) know nothing of these files; SQLite's own busy
timeout still stands between them and us. Without ``fcntl`` (Windows) there is no line and
only SQLite's busy timeout applies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_OPEN_FLAGS = os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def database_file(url: str) -> str | None:
    """Return the path of the SQLite file ``url`` names, or None for a database in memory."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):  # a URI filename (``?uri=true``)
        database = urlsplit(database).path
        if not database or database == ":memory:":
            return None
    return os.path.realpath(database)


class WriterLine:
    """One process's (one event loop's) place in the writer line of one SQLite file."""

    def __init__(self, database_path: str) -> None:
        self.lock_path = database_path + "-writer.lock"
        self.queue_path = database_path + "-writer.queue"
        self._claim: _Claim | None = None
        self._broken = False

    @classmethod
    def for_url(cls, url: str) -> WriterLine | None:
        """Return a line for the SQLite file of ``url``; None in memory or without ``fcntl``."""
        path = database_file(url)
        if path is None or fcntl is None:
            return None
        return cls(path)

    async def take(self, timeout_s: float) -> int | None:
        """Wait in line up to ``timeout_s`` for the lock; return the file holding it.

        Close the returned descriptor (``let_go``) to hand the lock on. Raise TimeoutError
        when the wait is spent; the place in line stays for this process's next writer.
        Return None when the lock files cannot be used (a read-only directory, say): then
        SQLite's busy timeout is the only line, as without ``fcntl``.
        """
        if self._broken:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                if self._claim is None:
                    held, queued = _try_take(self.queue_path, self.lock_path)
                    if held is not None:
                        return held
                    self._claim = _Claim(self.queue_path, self.lock_path, queued, loop)
                claim = self._claim
                try:
                    held = await claim.wait(deadline - loop.time())
                except OSError:
                    self._claim = None
                    raise
                if held is not None:
                    self._claim = None
                    return held
                self._claim = None  # let go while nobody waited for it: queue up again
        except OSError as exc:
            log.warning("SQLite writer line unusable (%s); writers poll SQLite's lock", exc)
            self._broken = True
            return None


def let_go(held: int) -> None:
    """Hand the lock on to the writer waiting at the front of the line."""
    os.close(held)


def _locked(path: str, *, wait: bool) -> int:
    """Open ``path`` and lock it (waiting, or BlockingIOError at once); return its descriptor."""
    assert fcntl is not None
    fd = os.open(path, _OPEN_FLAGS, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _try_take(queue_path: str, lock_path: str) -> tuple[int | None, int | None]:
    """Try the line without waiting: return (the lock, None), or (None, the queue) or (None, None).

    Holding the queue but not the lock, the caller waits for the lock at the front; holding
    neither, it waits for the queue first.
    """
    try:
        queue = _locked(queue_path, wait=False)
    except BlockingIOError:
        return None, None
    try:
        lock = _locked(lock_path, wait=False)
    except BlockingIOError:
        return None, queue
    except BaseException:
        os.close(queue)
        raise
    os.close(queue)
    return lock, None


def _wait_in_line(queue_path: str, lock_path: str, queue: int | None) -> int:
    """Block until this thread holds the queue, then the lock; let the queue go; return the lock."""
    if queue is None:
        queue = _locked(queue_path, wait=True)
    try:
        return _locked(lock_path, wait=True)
    finally:
        os.close(queue)


class _Claim:
    """One place in line, waited for in a daemon thread (a stopping server never waits on it).

    The thread and the event loop meet under ``_mutex``: when the thread gets the lock it
    hands it to the writer waiting right then, or lets it go at once when there is none.
    """

    def __init__(
        self, queue_path: str, lock_path: str, queue: int | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._loop = loop
        self._mutex = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._held: int | None = None
        self._error: OSError | None = None
        threading.Thread(
            target=self._run,
            args=(queue_path, lock_path, queue),
            name="sqlite-writer-line",
            daemon=True,
        ).start()

    def _run(self, queue_path: str, lock_path: str, queue: int | None) -> None:
        held: int | None = None
        error: OSError | None = None
        try:
            held = _wait_in_line(queue_path, lock_path, queue)
        except OSError as exc:
            error = exc
        with self._mutex:
            self._done, self._held, self._error = True, held, error
            waiter = self._waiter
            if waiter is None:
                self._let_go()
                return
            try:
                self._loop.call_soon_threadsafe(_wake, waiter)
            except RuntimeError:  # the loop is closed: nobody can take it any more
                self._let_go()

    def _let_go(self) -> None:
        if self._held is not None:
            let_go(self._held)
            self._held = None

    def _result(self) -> int | None:
        """Hand over what the thread got (under ``_mutex``): the lock, an error, or None."""
        if self._error is not None:
            raise self._error
        held, self._held = self._held, None
        return held

    async def wait(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for the thread; return the lock, or None when let go."""
        with self._mutex:
            if self._done:
                return self._result()
            waiter = self._waiter = self._loop.create_future()
        try:
            await asyncio.wait_for(waiter, max(timeout_s, 0))
        except BaseException:
            with self._mutex:
                self._waiter = None
                if self._done:  # it came just as this writer gave up: nobody needs it now
                    self._let_go()
            raise
        with self._mutex:
            self._waiter = None
            return self._result()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
