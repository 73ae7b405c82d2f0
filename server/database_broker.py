"""Live events between workers through the database: the broker for several workers without Redis.

``omnicart serve --workers N`` on the embedded default has no Redis, yet a cart changed through
worker 1 must reach a ``cartUpdated`` subscriber on worker 2. The workers already share one
thing: the database. Publishing inserts a small row into ``event_notices``; each worker runs
one poller (from its first subscription on) that reads the rows after the last id it handled every
``interval`` seconds and fans them out to its local subscribers; rows older than ``keep`` are
pruned.

Why a table and not PostgreSQL's LISTEN/NOTIFY: SQLite, the default this broker exists for, has
no notification channel, and one mechanism on both databases means one tested path. At a
chain's scale, Redis (``OMNICART_BROKER_URL=redis://…``) is the broker to set.

Ids are not commit order on PostgreSQL: a notice may get id 10, commit after id 11 and be
invisible at the poll that saw 11. So on PostgreSQL each poll re-reads the notices first seen
in the last ``grace`` seconds (deduplicated by id) and only moves its "handled up to" mark
past them once they are that old. On SQLite one writer at a time makes id order commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from server.db import Database
from server.events import FanOut, Message, drain
from server.models import EventNotice, utcnow

log = logging.getLogger("omnicart.events")

POLL_INTERVAL = 0.05  # seconds between polls: the most a notice waits for a worker to see it
PRUNE_EVERY = 30.0  # seconds between deletions of old notices, per worker
BATCH = 1000


class DatabaseBroker:
    """Delivers events to subscribers of every worker that shares the database."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = POLL_INTERVAL,
        keep: timedelta = timedelta(seconds=60),
        grace: float | None = None,
    ) -> None:
        self._db = db
        self._interval = interval
        self._keep = keep
        self._grace = (0.0 if db.is_sqlite else 2.0) if grace is None else grace
        self._fan_out = FanOut()
        self._poller: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._handled_up_to = 0
        self._recent: dict[int, float] = {}  # id -> when first seen, for ids above the mark
        self._pruned_at = 0.0

    async def publish(self, topic: str, message: Message) -> None:
        """Write the notice in a transaction of its own; every worker's poller picks it up."""
        async with self._db.transaction() as session:
            await session.execute(
                insert(EventNotice).values(topic=topic, message=message, created_at=utcnow())
            )

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Message]]:
        """Listen to ``topic``; every notice published after this returns is delivered."""
        queue = self._fan_out.add(topic)
        try:
            await self._ensure_poller()
            yield drain(queue)
        finally:
            self._fan_out.remove(topic, queue)

    async def health(self) -> str:
        """Return ``"ok"`` when the notices table answers."""
        try:
            async with self._db.transaction(write=False) as session:
                await session.execute(select(EventNotice.id).limit(1))
        except (SQLAlchemyError, OSError):
            return "unavailable"
        return "ok"

    async def close(self) -> None:
        """Stop polling and drop the local subscribers."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        self._fan_out.queues.clear()

    async def _ensure_poller(self) -> None:
        async with self._start_lock:
            if self._poller is not None and not self._poller.done():
                return
            # The mark starts at the newest notice: what was published before is history
            # (on PostgreSQL, minus the last ``grace`` seconds, which may still be arriving).
            newest_stmt = select(func.max(EventNotice.id))
            if self._grace:
                since = utcnow() - timedelta(seconds=self._grace)
                newest_stmt = newest_stmt.where(EventNotice.created_at < since)
            async with self._db.transaction(write=False) as session:
                newest = (await session.execute(newest_stmt)).scalar()
            self._handled_up_to = int(newest or 0)
            self._recent.clear()
            self._poller = asyncio.create_task(self._poll_forever(), name="database-events")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll_once()
                if time.monotonic() - self._pruned_at > PRUNE_EVERY:
                    await self.prune()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("reading events from the database failed: %s; retrying", exc)
                await asyncio.sleep(max(self._interval, 0.5))

    async def poll_once(self) -> int:
        """Deliver the notices not yet seen; return how many were delivered."""
        async with self._db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    select(EventNotice.id, EventNotice.topic, EventNotice.message)
                    .where(EventNotice.id > self._handled_up_to)
                    .order_by(EventNotice.id)
                    .limit(BATCH)
                )
            ).all()
        now = time.monotonic()
        delivered = 0
        for row in rows:
            if row.id in self._recent:
                continue
            self._recent[row.id] = now
            self._fan_out.deliver(row.topic, row.message)
            delivered += 1
        self._advance_mark(now)
        return delivered

    def _advance_mark(self, now: float) -> None:
        # Past every notice seen more than ``grace`` ago: a notice with a lower id has had
        # that long to commit (publishing is one insert), so none is still on its way.
        settled = [i for i, seen in self._recent.items() if now - seen >= self._grace]
        if settled:
            self._handled_up_to = max(self._handled_up_to, *settled)
            self._recent = {i: s for i, s in self._recent.items() if i > self._handled_up_to}

    async def prune(self) -> None:
        """Delete notices older than ``keep``, which every poller has read long since."""
        self._pruned_at = time.monotonic()
        async with self._db.transaction() as session:
            await session.execute(
                delete(EventNotice).where(EventNotice.created_at < utcnow() - self._keep)
            )
