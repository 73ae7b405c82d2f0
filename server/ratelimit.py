"""Counting failed attempts (wrong handoff codes, wrong passwords) in the shared database.

An attempt is *admitted* before it is verified: when any of its buckets
(``claim:device:12``, ``claim:addr:203.0.113.9``, ``signin:email:<hash>``) already holds
``limit`` failures inside the sliding window it is refused with ``RateLimited`` and never
verified; otherwise it is counted as a failure, one row per bucket, before verification
starts. A correct password, or a code that works, is uncounted again, so failures are what
count, and a correct password sent once the limit is reached is still refused. A full
bucket is refused by a plain read before anything is written, which keeps a flood cheap.

Concurrency: the count and the insert that admit an attempt run in one short transaction
that holds each of its buckets' locks until it commits (a PostgreSQL advisory lock per
bucket; on SQLite the one write lock). So admissions to a bucket happen one after the
other, each sees every failure admitted before it, and however many requests and worker
processes guess at once, no bucket gets more than ``limit`` wrong verifications per window.
The lock is held for a count and an insert, never while a password is hashed, and there is
no counter row to contend on: each failure is a row of its own.

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

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from server.config import Settings
from server.db import Database
from server.errors import RateLimited
from server.models import AuthFailure

# The first number of the two-number advisory locks on buckets ("RL" + "AT" in ASCII).
_LOCK_SPACE = 0x524C4154


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
            # A full bucket is refused by a read, so a flood of refused guesses writes nothing.
            self._refuse_full(await _counts(session, keys, cutoff))
        async with self.db.side_transaction() as session:
            if not self.db.is_sqlite:  # a SQLite writer is alone already
                await _lock_buckets(session, keys)
            self._refuse_full(await _counts(session, keys, cutoff))
            rows = [{"bucket": key, "occurred_at": now} for key in keys]
            inserted = await session.execute(insert(AuthFailure).returning(AuthFailure.id), rows)
            return list(inserted.scalars().all())

    async def _uncount(self, ids: list[int]) -> None:
        async with self.db.side_transaction() as session:
            await session.execute(delete(AuthFailure).where(AuthFailure.id.in_(ids)))

    def _refuse_full(self, counts: dict[str, int]) -> None:
        if any(count >= self.rule.limit for count in counts.values()):
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
            if bucket in keys:
                counts[bucket] = counts.get(bucket, 0) + 1
        self._refuse_full(counts)
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


async def _lock_buckets(session: AsyncSession, keys: list[str]) -> None:
    """Hold each bucket's PostgreSQL advisory lock until the transaction ends.

    Locks are taken in one order (by key) so two admissions never wait on each other in a
    circle. The two-number form keeps them apart from the app's single-number locks.
    """
    for key in sorted({_lock_key(bucket) for bucket in keys}):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
        )


def _lock_key(bucket: str) -> int:
    return int.from_bytes(hashlib.sha256(bucket.encode()).digest()[:4], "big", signed=True)


async def expire_failures(
    session: AsyncSession, window: timedelta, now: datetime, *, batch: int = 1000
) -> int:
    """Delete up to ``batch`` failures older than ``window`` (they count no more); return how many.

    Run by the background housekeeping (``server.housekeeping``), never inside a request:
    counting ignores them anyway (``_counts`` looks at the window only).
    """
    oldest = (
        select(AuthFailure.id)
        .where(AuthFailure.occurred_at <= now - window)
        .order_by(AuthFailure.id)
        .limit(batch)
    )
    result = await session.execute(
        delete(AuthFailure)
        .where(AuthFailure.id.in_(oldest.scalar_subquery()))
        .returning(AuthFailure.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())
