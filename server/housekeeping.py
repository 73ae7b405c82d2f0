"""Background housekeeping: expired rows deleted in batches, off every shopper's request.

Idempotency keys live a day (``server.carts.versioning.KEY_LIFETIME``) and failed
attempts count for the rate limit's window (``server.ratelimit``); past that they are
inert (every lookup filters on its time), so deleting them is only about the tables'
size. ``expire_rows`` deletes them in short batches, each its own transaction, so a big
backlog never holds SQLite's write lock (or PostgreSQL's rows) for long. Every server
process runs it every ``OMNICART_HOUSEKEEPING_SECONDS`` (``run_forever``), and
``omnicart housekeeping`` runs it (with the placed-order follow-up) from cron.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.carts.versioning import expire_keys
from server.db import Database
from server.models import utcnow
from server.ratelimit import expire_failures

BATCH = 1000
log = logging.getLogger("omnicart.housekeeping")


@dataclass(frozen=True, slots=True)
class Expired:
    """How many rows one housekeeping pass deleted."""

    idempotency_keys: int = 0
    auth_failures: int = 0


async def expire_rows(
    db: Database, *, failure_window: timedelta, now: datetime | None = None, batch: int = BATCH
) -> Expired:
    """Delete every expired idempotency key and failed attempt, ``batch`` rows at a time."""
    moment = now or utcnow()
    keys = failures = 0
    while True:
        async with db.transaction() as session:
            taken = await expire_keys(session, moment, batch=batch)
        keys += taken
        if taken < batch:
            break
    while True:
        async with db.transaction() as session:
            taken = await expire_failures(session, failure_window, moment, batch=batch)
        failures += taken
        if taken < batch:
            break
    return Expired(keys, failures)


async def run_forever(db: Database, *, failure_window: timedelta, interval: float) -> None:
    """Expire rows every ``interval`` seconds, for ever; an error is logged, tried next round."""
    while True:
        try:
            await expire_rows(db, failure_window=failure_window)
        except Exception:  # the database away, say: try again next round
            log.exception("housekeeping pass failed")
        await asyncio.sleep(interval)
