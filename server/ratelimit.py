"""Counting failed attempts (wrong handoff codes, wrong passwords) in the shared database.

Each failure is one row in a bucket (``claim:device:12``, ``claim:addr:203.0.113.9``); a
bucket with ``limit`` failures inside the sliding window refuses further attempts with
``RateLimited`` until old failures age out. Rows live in the database rather than in
memory so that every worker process behind the load balancer counts the same attempts.

Under concurrency the count may overshoot by the number of attempts in flight at once
(each checks before any of them records); the limit bounds guessing, it is not a quota.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
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


async def check_attempts(
    session: AsyncSession, buckets: Sequence[str], rule: AttemptLimit, now: datetime
) -> None:
    """Raise RateLimited when any bucket already holds ``rule.limit`` recent failures."""
    if not buckets:
        return
    stmt = (
        select(AuthFailure.bucket, func.count())
        .where(AuthFailure.bucket.in_(buckets), AuthFailure.occurred_at > now - rule.window)
        .group_by(AuthFailure.bucket)
    )
    for _bucket, count in await session.execute(stmt):
        if count >= rule.limit:
            minutes = max(1, int(rule.window.total_seconds() // 60))
            raise RateLimited(f"Too many failed attempts; try again in up to {minutes} minutes.")


async def record_failure(
    session: AsyncSession, buckets: Sequence[str], rule: AttemptLimit, now: datetime
) -> None:
    """Count one failure in every bucket, dropping the buckets' failures older than the window."""
    if not buckets:
        return
    await session.execute(
        delete(AuthFailure).where(
            AuthFailure.bucket.in_(buckets), AuthFailure.occurred_at <= now - rule.window
        )
    )
    await session.execute(
        insert(AuthFailure), [{"bucket": bucket, "occurred_at": now} for bucket in buckets]
    )
