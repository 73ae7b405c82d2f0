"""Live events between workers through the database: the broker for several workers without Redis.

``omnicart serve --workers N`` on the embedded default has no Redis, yet a cart changed through
worker 1 must reach a ``cartUpdated`` subscriber on worker 2. The workers already share one
thing: the database. Publishing inserts small rows into ``event_notices`` (a batch in one
transaction, ``publish_many``); each worker runs one poller (from its first subscription on)
that reads the rows after the last id it handled and fans them out to its local subscribers;
rows older than ``keep`` are pruned.

When a poller polls: a worker's own publish wakes its own poller at once. On PostgreSQL the
insert also sends ``NOTIFY omnicart_events`` (delivered at its commit) and each poller LISTENs
on a connection of its own, so every worker polls right after any notice committed, and every
``idle`` seconds otherwise. Without that channel (SQLite, or a lost listening connection) a
poller polls every ``interval`` seconds while notices flow and every ``idle`` seconds once
none came for a second. Polls are never closer than ``interval``: a burst costs one read.
The table stays the record on both databases: a wake-up only says "poll now".

Ids are not commit order on PostgreSQL: a notice may get id 10, commit after id 11 and be
invisible at the poll that saw 11. So on PostgreSQL each poll re-reads the notices first seen
in the last ``grace`` seconds (deduplicated by id) and only moves its "handled up to" mark
past them once they are that old. On SQLite one writer at a time makes id order commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy import delete, func, insert, make_url, select
from sqlalchemy.exc import SQLAlchemyError

from server.db import Database
from server.events import FanOut, Message, drain
from server.models import EventNotice, utcnow

log = logging.getLogger("omnicart.events")

POLL_INTERVAL = 0.01  # least seconds between polls; the most a notice waits while they flow
IDLE_INTERVAL = 0.05  # seconds between polls once no notice came for FLOWING seconds
FLOWING = 1.0
RELISTEN_EVERY = 5.0  # seconds between attempts to LISTEN again after the connection was lost
CHANNEL = "omnicart_events"
_ASYNCPG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)
_AFTER_SQLITE = "SELECT id, topic, message FROM event_notices WHERE id > ? ORDER BY id LIMIT ?"
_AFTER_POSTGRES = (
    "SELECT id, topic, message::text FROM event_notices WHERE id > $1 ORDER BY id LIMIT $2"
)
# One text for every batch size (arrays, not a VALUES row per notice): prepared once per
# connection instead of compiled and prepared again for each new batch size.
_PUBLISH_POSTGRES = (
    "WITH added AS (INSERT INTO event_notices (topic, message, created_at)"
    " SELECT topic, message::jsonb, $3 FROM unnest($1::text[], $2::text[]) AS n (topic, message)"
    f" RETURNING id) SELECT pg_notify('{CHANNEL}', count(*)::text) FROM added"
)
PRUNE_EVERY = 30.0  # seconds between deletions of old notices, per worker
BATCH = 1000


class DatabaseBroker:
    """Delivers events to subscribers of every worker that shares the database."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = POLL_INTERVAL,
        idle: float | None = None,
        keep: timedelta = timedelta(seconds=60),
        grace: float | None = None,
    ) -> None:
        self._db = db
        self._interval = interval
        self._idle = idle
        self._keep = keep
        self._grace = (0.0 if db.is_sqlite else 2.0) if grace is None else grace
        self._fan_out = FanOut()
        self._poller: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._handled_up_to = 0
        self._recent: dict[int, float] = {}  # id -> when first seen, for ids above the mark
        self._pruned_at = 0.0
        self._news_at = 0.0  # when a poll last found a notice it had not seen
        self._woken: asyncio.Event | None = None
        self._listener: Any = None  # the asyncpg connection that LISTENs (PostgreSQL)
        self._listen_tried_at = 0.0
        self._reader: sqlite3.Connection | None = None  # the poller's own (SQLite)
        self._poll_lock = asyncio.Lock()
        self._publishing: Any = None  # the asyncpg connection that publishes (PostgreSQL)
        self._publish_lock = asyncio.Lock()

    async def publish(self, topic: str, message: Message) -> None:
        """Write the notice in a transaction of its own; every worker's poller picks it up."""
        await self.publish_many([(topic, message)])

    async def publish_many(self, notices: list[tuple[str, Message]]) -> None:
        """Write the notices in one transaction and one statement; every poller picks them up.

        On PostgreSQL the statement runs on a connection of the broker's own (autocommit: the
        statement is its transaction) and also notifies the pollers that LISTEN (at its
        commit); publishing after each checkout then costs one round trip, not a pooled
        session's ping, BEGIN, INSERT and COMMIT.
        """
        if not notices:
            return
        if self._db.is_sqlite:
            now = utcnow()
            rows = [{"topic": t, "message": m, "created_at": now} for t, m in notices]
            async with self._db.transaction() as session:
                await session.execute(insert(EventNotice), rows)
        else:
            await self._publish_postgres(notices)
        if self._woken is not None:
            self._woken.set()

    async def _publish_postgres(self, notices: list[tuple[str, Message]]) -> None:
        topics = [topic for topic, _ in notices]
        messages = [json.dumps(message) for _, message in notices]
        async with self._publish_lock:
            for attempt in range(2):
                if self._publishing is None or self._publishing.is_closed():
                    self._publishing = await asyncpg.connect(self._dsn())
                try:
                    await self._publishing.execute(_PUBLISH_POSTGRES, topics, messages, utcnow())
                    return
                except (OSError, asyncpg.InterfaceError) as exc:
                    # The connection died (a restarted server, say): once more on a new one.
                    # Should the lost one have committed, a notice arrives twice: harmless,
                    # each only says "read again".
                    await self._stop_publishing()
                    if attempt:
                        raise
                    log.info("publishing events failed: %s; reconnecting", exc)

    async def _stop_publishing(self) -> None:
        connection, self._publishing = self._publishing, None
        if connection is not None:
            with contextlib.suppress(OSError, TimeoutError, *_ASYNCPG_ERRORS):
                await connection.close(timeout=2)

    def _dsn(self) -> str:
        url = make_url(self._db.url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

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
        """Stop polling, stop listening and drop the local subscribers."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self._stop_listening()
        await self._stop_publishing()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._fan_out.queues.clear()

    async def _ensure_poller(self) -> None:
        async with self._start_lock:
            if self._poller is not None and not self._poller.done():
                return
            self._woken = asyncio.Event()
            # Listening first: a notice committed from here on wakes the poller.
            await self._listen()
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
            await self._wait_for_news()
            polled_at = time.monotonic()
            try:
                await self.poll_once()
                if polled_at - self._pruned_at > PRUNE_EVERY:
                    await self.prune()
            except (SQLAlchemyError, OSError, sqlite3.Error, *_ASYNCPG_ERRORS) as exc:
                log.warning("reading events from the database failed: %s; retrying", exc)
                await asyncio.sleep(max(self._interval, 0.5))
            if self._listener is None and polled_at - self._listen_tried_at > RELISTEN_EVERY:
                await self._listen()
            # Wake-ups during the poll and the rest of this pause are served by one next poll.
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - polled_at)))

    async def _wait_for_news(self) -> None:
        """Return when woken, or when the period of the poller's state has passed."""
        woken = self._woken
        assert woken is not None
        if self._idle is not None:
            period = self._idle
        elif self._listener is None and time.monotonic() - self._news_at < FLOWING:
            period = self._interval
        else:
            # Listening, polls are only the fallback (a pooler that drops NOTIFY, say).
            period = max(self._interval, IDLE_INTERVAL)
        if not woken.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), period)
        woken.clear()

    async def _listen(self) -> None:
        """On PostgreSQL, LISTEN on a connection of the poller's own; polling goes on without."""
        if self._db.is_sqlite or self._listener is not None:
            return
        self._listen_tried_at = time.monotonic()
        try:
            connection = await asyncpg.connect(self._dsn())
            await connection.add_listener(CHANNEL, self._on_notify)
        except (OSError, *_ASYNCPG_ERRORS) as exc:
            log.warning("listening for events failed: %s; polling instead", exc)
            return
        connection.add_termination_listener(self._on_lost)
        self._listener = connection

    def _on_notify(self, *_args: object) -> None:
        if self._woken is not None:
            self._woken.set()

    def _on_lost(self, *_args: object) -> None:
        log.warning("the connection listening for events was lost; polling instead")
        self._listener = None

    async def _stop_listening(self) -> None:
        connection, self._listener = self._listener, None
        if connection is not None:
            connection.remove_termination_listener(self._on_lost)
            with contextlib.suppress(OSError, TimeoutError, *_ASYNCPG_ERRORS):
                await connection.close(timeout=2)

    async def poll_once(self) -> int:
        """Deliver the notices not yet seen; return how many were delivered."""
        async with self._poll_lock:
            rows = await self._read_after(self._handled_up_to)
        now = time.monotonic()
        delivered = 0
        for notice_id, topic, message in rows:
            if notice_id in self._recent:
                continue
            self._recent[notice_id] = now
            self._fan_out.deliver(topic, message)
            delivered += 1
        if delivered:
            self._news_at = now
        self._advance_mark(now)
        return delivered

    async def _read_after(self, mark: int) -> list[tuple[int, str, Message]]:
        """Return the notices after ``mark``, in id order, the cheapest way there is.

        A poll runs up to a hundred times a second, so it skips the ORM and its pool: on
        SQLite it is one indexed read on a connection of the poller's own, in the loop (WAL:
        a reader never waits for the writer); on PostgreSQL it runs on the listening
        connection; only without one does it take a pooled session.
        """
        if self._db.is_sqlite:
            if self._reader is None:
                path = make_url(self._db.url).database or ""
                self._reader = sqlite3.connect(path, timeout=0.1, isolation_level=None)
            found = self._reader.execute(_AFTER_SQLITE, (mark, BATCH)).fetchall()
            return [(i, topic, json.loads(message)) for i, topic, message in found]
        if self._listener is not None:
            records = await self._listener.fetch(_AFTER_POSTGRES, mark, BATCH)
            return [(r["id"], r["topic"], json.loads(r["message"])) for r in records]
        async with self._db.transaction(write=False) as session:
            result = await session.execute(
                select(EventNotice.id, EventNotice.topic, EventNotice.message)
                .where(EventNotice.id > mark)
                .order_by(EventNotice.id)
                .limit(BATCH)
            )
            return [(row.id, row.topic, row.message) for row in result]

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
