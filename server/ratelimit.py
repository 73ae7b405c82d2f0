"""Counting failed attempts (wrong handoff codes, wrong passwords) in the shared database.

An attempt is *admitted* before it is verified. Admitting it counts it as a failure, one row
in each of its buckets (``claim:device:12``, ``claim:addr:203.0.113.9``,
``signin:email:<hash>``), and then counts the buckets. If any bucket holds more than
``limit`` failures inside the sliding window, the attempt is uncounted, never verified, and
refused with ``RateLimited``. A correct password, or a code that works, is uncounted as
well. So only wrong attempts count, and a correct password sent once the limit is reached
is still refused. A full bucket is refused by a plain read before anything is written,
which keeps a flood cheap.

Concurrency: an attempt's buckets are counted only after its own rows have committed. Take
two attempts: the one that committed second sees the other's row. Sort the wrong attempts
that got verified by the time they committed. The k-th of them saw at least k rows, and
it was admitted only if it saw at most ``limit``. So however many requests and workers
guess at once, no bucket gets more than ``limit`` wrong verifications per window. The rows
of attempts still in flight, refused ones included, can make a burst's neighbours be refused
before the limit is used up. They can never let one more in. Each row is its own insert, so
there is no hot counter row to lock.

Where the count commits: rows live in the database rather than in memory, so every worker
process counts the same attempts. They must also outlive the operation that made them,
since it may roll back for reasons of its own (a sibling field of the same GraphQL
mutation that fails, for example). So:

- ``AttemptCounter`` admits in side transactions of its own (``Database.side_transaction``),
  each committed before the verification starts. It is used on PostgreSQL, and on SQLite
  outside a write transaction (the handoff image routes).
- On SQLite a write operation holds the database's only write lock from its first
  statement to its end. A transaction of its own could not write until then, and for the
  same reason nobody else can count in between, so the rows stored plus the operation's own
  admissions are the exact count. ``OperationAttemptCounter`` keeps the failures it admits
  and writes them when the operation ends. On commit they go into the operation's
  transaction. On a rollback the operation returns to a savepoint opened before its first
  statement, and only the failures are written and committed, so the lock is never let go
  in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from server.config import Settings
from server.db import Database
from server.errors import RateLimited
from server.models import AuthFailure


@dataclass(frozen=True, slots=True)
class AttemptLimit:
    """At most ``limit`` failures per bucket within ``window``."""

    limit: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> AttemptLimit:
        """Return the limit the settings configure for codes and passwords."""
        return cls(
            settings.auth_failure_limit, timedelta(minutes=settings.auth_failure_window_minutes)
        )


class Attempt:
    """One admitted attempt: it stays counted as a failure unless ``succeeded()`` is called."""

    __slots__ = ("right",)

    def __init__(self) -> None:
        self.right = False

    def succeeded(self) -> None:
        """Mark the attempt as right, so it is uncounted when its block ends."""
        self.right = True


class AttemptCounter:
    """Admits attempts against buckets under one ``AttemptLimit``, in side transactions.

    See the module docstring for why the limit holds.
    """

    def __init__(self, db: Database, rule: AttemptLimit) -> None:
        self.db = db
        self.rule = rule

    @asynccontextmanager
    async def attempt(self, buckets: Sequence[str], now: datetime) -> AsyncIterator[Attempt]:
        """Admit one attempt against every bucket, or raise RateLimited without running the block.

        The attempt stays counted as a failure unless the block calls ``succeeded()`` on it.
        """
        keys = list(dict.fromkeys(buckets))
        assert keys, "an attempt counts against at least one bucket"
        ids = await self._admit(keys, now)
        attempt = Attempt()
        try:
            yield attempt
        finally:
            if attempt.right:
                await self._uncount(ids)

    async def _admit(self, keys: list[str], now: datetime) -> list[int]:
        cutoff = now - self.rule.window
        async with self.db.side_transaction(write=False) as session:
            self._refuse_over(await _counts(session, keys, cutoff), self.rule.limit - 1)
        async with self.db.side_transaction() as session:
            await _sweep(session, keys, cutoff)
            rows = [{"bucket": key, "occurred_at": now} for key in keys]
            ids = list(
                (await session.execute(insert(AuthFailure).returning(AuthFailure.id), rows))
                .scalars()
                .all()
            )
        # Counted only now that the rows have committed: see the module docstring.
        async with self.db.side_transaction(write=False) as session:
            counts = await _counts(session, keys, cutoff)
        try:
            self._refuse_over(counts, self.rule.limit)
        except RateLimited:
            await self._uncount(ids)
            raise
        return ids

    async def _uncount(self, ids: list[int]) -> None:
        async with self.db.side_transaction() as session:
            await session.execute(delete(AuthFailure).where(AuthFailure.id.in_(ids)))

    def _refuse_over(self, counts: dict[str, int], most: int) -> None:
        if any(count > most for count in counts.values()):
            minutes = max(1, int(self.rule.window.total_seconds() // 60))
            raise RateLimited(f"Too many failed attempts; try again in up to {minutes} minutes.")


class OperationAttemptCounter(AttemptCounter):
    """Counts attempts inside a SQLite write operation and commits them however it ends.

    The operation holds SQLite's write lock throughout, so nobody else counts meanwhile:
    the rows already stored plus the ones admitted here are the exact count. Admitted
    failures wait here and are written when the operation ends, by ``commit`` into its
    transaction or by ``roll_back`` into a transaction that keeps nothing else.
    """

    def __init__(
        self,
        db: Database,
        rule: AttemptLimit,
        session: AsyncSession,
        savepoint: AsyncSessionTransaction,
    ) -> None:
        super().__init__(db, rule)
        self._session = session
        self._savepoint = savepoint
        self._pending: dict[int, tuple[str, datetime]] = {}
        self._next_id = 0

    @classmethod
    async def begin(
        cls, db: Database, rule: AttemptLimit, session: AsyncSession
    ) -> OperationAttemptCounter:
        """Return a counter for ``session``, a SQLite write operation whose transaction just began.

        Call it before the operation's first statement: ``roll_back`` returns to the
        savepoint it opens.
        """
        return cls(db, rule, session, await session.begin_nested())

    async def commit(self) -> None:
        """Write the counted failures into the operation's transaction and commit it."""
        await self._write_pending()
        await self._session.commit()

    async def roll_back(self) -> None:
        """Undo the operation's work, yet commit the failures it counted.

        The operation goes back to its first savepoint rather than ending, so the write
        lock is never let go in between and nobody can count without these failures.
        """
        if not self._pending:
            await self._session.rollback()
            return
        await self._savepoint.rollback()
        await self._write_pending()
        await self._session.commit()

    async def _admit(self, keys: list[str], now: datetime) -> list[int]:
        counts = await _counts(self._session, keys, now - self.rule.window)
        for bucket, _at in self._pending.values():
            counts[bucket] = counts.get(bucket, 0) + 1
        # Refused when this attempt would be one more than the limit allows.
        self._refuse_over({key: counts.get(key, 0) + 1 for key in keys}, self.rule.limit)
        ids = []
        for key in keys:
            self._next_id += 1
            self._pending[self._next_id] = (key, now)
            ids.append(self._next_id)
        return ids

    async def _uncount(self, ids: list[int]) -> None:
        for row_id in ids:
            self._pending.pop(row_id, None)

    async def _write_pending(self) -> None:
        if not self._pending:
            return
        oldest = min(at for _bucket, at in self._pending.values())
        keys = list(dict.fromkeys(bucket for bucket, _at in self._pending.values()))
        await _sweep(self._session, keys, oldest - self.rule.window)
        rows = [{"bucket": b, "occurred_at": at} for b, at in self._pending.values()]
        await self._session.execute(insert(AuthFailure), rows)
        self._pending.clear()


async def _counts(session: AsyncSession, keys: list[str], cutoff: datetime) -> dict[str, int]:
    stmt = (
        select(AuthFailure.bucket, func.count())
        .where(AuthFailure.bucket.in_(keys), AuthFailure.occurred_at > cutoff)
        .group_by(AuthFailure.bucket)
    )
    return {bucket: count for bucket, count in await session.execute(stmt)}


async def _sweep(session: AsyncSession, keys: list[str], cutoff: datetime) -> None:
    """Drop the buckets' failures older than the window; rows a neighbour is dropping are skipped.

    SKIP LOCKED (PostgreSQL; SQLite has one writer anyway) keeps two sweeps of one bucket
    from waiting on, or deadlocking with, each other.
    """
    old = (
        select(AuthFailure.id)
        .where(AuthFailure.bucket.in_(keys), AuthFailure.occurred_at <= cutoff)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(AuthFailure).where(AuthFailure.id.in_(old)))
