"""Publish/subscribe of domain events (cart, order and stock changes) between devices.

Three brokers behind one interface: in-process (one server process, the default), the
database (``OMNICART_BROKER_URL=database``, what ``omnicart serve --workers N`` picks when no
broker is set; see ``server.database_broker``) and Redis pub/sub
(``OMNICART_BROKER_URL=redis://…``), so every worker behind a load balancer sees every event;
``server.runtime.create_broker`` picks the one the settings name.
Events are small notices (``{"id": 7, "version": 12}``); subscribers read the
current state from the database, so a dropped or coalesced notice never shows stale data:
the newest state is always one read away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.outages import is_lost_connection

log = logging.getLogger("omnicart.events")
# OMNICART_BROKER_URL naming the database broker (server.database_broker).
DATABASE_BROKER = "database"

Message = dict[str, Any]
# A slow subscriber keeps at most this many notices; older ones are dropped first, which is
# safe because each notice only says "read again".
QUEUE_SIZE = 64


def cart_topic(cart_id: int) -> str:
    """Return the topic on which a cart's changes are announced."""
    return f"cart:{cart_id}"


def order_topic(order_id: int) -> str:
    """Return the topic on which an order's changes are announced."""
    return f"order:{order_id}"


# Every committed change of a product's data, price or stock is announced here, after commit,
# as ``{"productIds": [3, 7]}``: per-process caches drop those entries and product
# subscriptions read them again. The outbox (server.outbox) stays the durable record.
PRODUCTS_TOPIC = "products"


def products_notice(product_ids: Iterable[int]) -> Message:
    """Return the notice that says these products changed."""
    return {"productIds": sorted(product_ids)}


async def announce_product_changes(broker: Broker, product_ids: set[int]) -> None:
    """Tell every process that these products changed; call after the change committed.

    Awaited, for a loop that has nothing else to do meanwhile (the indexer); a request posts
    to its ``Publisher`` instead (``announce_products``).
    """
    if product_ids:
        await broker.publish(PRODUCTS_TOPIC, products_notice(product_ids))


class Broker(Protocol):
    """Where events are published and subscribed to."""

    async def publish(self, topic: str, message: Message) -> None:
        """Announce ``message`` to every subscriber of ``topic``, in every process."""

    async def publish_many(self, notices: list[tuple[str, Message]]) -> None:
        """Announce each ``(topic, message)`` at once: one round trip or transaction for all."""

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        """Listen to ``topic`` for as long as the context is open."""

    async def health(self) -> str:
        """Return ``"ok"`` when events flow, ``"unavailable"`` otherwise."""

    async def close(self) -> None:
        """Stop delivering and release connections."""


class FanOut:
    """Local delivery of messages to the queues of this process's subscribers."""

    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue[Message]]] = defaultdict(set)

    def deliver(self, topic: str, message: Message) -> None:
        """Queue ``message`` for every local subscriber of ``topic``, dropping their oldest."""
        for queue in list(self.queues.get(topic, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    def add(self, topic: str) -> asyncio.Queue[Message]:
        """Return a new subscriber queue for ``topic``."""
        queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self.queues[topic].add(queue)
        return queue

    def remove(self, topic: str, queue: asyncio.Queue[Message]) -> bool:
        """Drop a queue; return True when the topic has no local subscriber left."""
        queues = self.queues.get(topic)
        if queues is None:
            return True
        queues.discard(queue)
        if not queues:
            del self.queues[topic]
            return True
        return False


async def drain(queue: asyncio.Queue[Message]) -> AsyncIterator[Message]:
    """Yield a subscriber's notices as they arrive."""
    while True:
        yield await queue.get()


class InProcessBroker:
    """Delivers events to subscribers of the same process; no set-up needed."""

    def __init__(self) -> None:
        self._fan_out = FanOut()

    async def publish(self, topic: str, message: Message) -> None:
        self._fan_out.deliver(topic, message)

    async def publish_many(self, notices: list[tuple[str, Message]]) -> None:
        for topic, message in notices:
            self._fan_out.deliver(topic, message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Message]]:
        queue = self._fan_out.add(topic)
        try:
            yield drain(queue)
        finally:
            self._fan_out.remove(topic, queue)

    async def health(self) -> str:
        return "ok"

    async def close(self) -> None:
        self._fan_out.queues.clear()


class RedisBroker:
    """Delivers events through Redis pub/sub so that every server process sees them.

    One Redis connection publishes and one shared pub/sub connection listens for all the
    topics this process's subscribers want; a reader task fans messages out locally.
    """

    def __init__(self, url: str, *, prefix: str = "omnicart") -> None:
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._fan_out = FanOut()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _channel(self, topic: str) -> str:
        return f"{self._prefix}:{topic}"

    async def publish(self, topic: str, message: Message) -> None:
        await self._redis.publish(self._channel(topic), json.dumps(message))

    async def publish_many(self, notices: list[tuple[str, Message]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, message in notices:
                pipe.publish(self._channel(topic), json.dumps(message))
            await pipe.execute()

    async def _ensure_reader(self) -> Any:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        return self._pubsub

    async def _read_forever(self) -> None:
        pubsub = self._pubsub
        strip = len(self._prefix) + 1
        while True:
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                item = await pubsub.get_message(timeout=1.0)
            except RedisError as exc:
                log.warning("event stream from Redis interrupted: %s; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            if item is None or item.get("type") != "message":
                continue
            try:
                message = json.loads(item["data"])
            except (TypeError, ValueError):
                log.warning("dropping a malformed event on %s", item.get("channel"))
                continue
            self._fan_out.deliver(item["channel"][strip:], message)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Message]]:
        async with self._lock:
            pubsub = await self._ensure_reader()
            first = topic not in self._fan_out.queues
            queue = self._fan_out.add(topic)
            if first:
                # Subscribed before returning, so nothing published after this is missed.
                try:
                    await pubsub.subscribe(self._channel(topic))
                except BaseException:
                    # Redis is unreachable: forget the queue, so the next try subscribes again.
                    self._fan_out.remove(topic, queue)
                    raise
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_forever(), name="redis-events")
        try:
            yield drain(queue)
        finally:
            async with self._lock:
                if self._fan_out.remove(topic, queue):
                    with contextlib.suppress(RedisError):
                        await pubsub.unsubscribe(self._channel(topic))

    async def health(self) -> str:
        try:
            await self._redis.ping()
        except (RedisError, OSError):
            return "unavailable"
        return "ok"

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()


def _newer(message: Message, than: Message | None) -> bool:
    """Whether ``message`` announces a later state than ``than`` (notices without versions are)."""
    if than is None:
        return True
    version, other = message.get("version"), than.get("version")
    if isinstance(version, int) and isinstance(other, int):
        return version > other
    return True


class Publisher:
    """Publishes notices from a background task of this process, coalesced and in batches.

    ``post`` and ``announce_products`` only queue (they never wait on the broker), so a request
    answers as soon as it committed. Notices of one topic posted before the task takes them
    coalesce: the one of the newest version wins, and a notice older than one already
    published on its topic is dropped, so subscribers never see a version go back; product
    ids announced meanwhile are unioned into one ``{"productIds": [...]}`` notice. What the
    task takes goes to the broker in one ``publish_many`` (one transaction on the database
    broker, one pipeline on Redis). The task starts on the first post in an event loop; a
    failed publish is logged and the next notices still go out.
    """

    # Topics whose last published version is remembered (oldest forgotten first).
    REMEMBERED = 10_000
    # Notices handed to the broker at once, at most.
    BATCH = 500
    # Seconds ``close`` waits for the queued notices to go out (a broker that hangs).
    CLOSE_WAIT = 5.0

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._pending: dict[str, Message] = {}
        self._products: set[int] = set()
        self._published: dict[str, Message] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def post(self, topic: str, message: Message) -> None:
        """Queue ``message`` for ``topic``; it replaces a queued older one of the same topic."""
        if _newer(message, self._pending.get(topic)) and _newer(
            message, self._published.get(topic)
        ):
            self._pending[topic] = message
        self._start()

    def announce_products(self, product_ids: Iterable[int]) -> None:
        """Queue a notice that these products changed; call after the change committed."""
        before = len(self._products)
        self._products.update(product_ids)
        if len(self._products) > before:
            self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._wake, self._idle = loop, asyncio.Event(), asyncio.Event()
            self._task = loop.create_task(self._run(), name="omnicart-publisher")
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending or self._products:
                batch = self._take()
                for start in range(0, len(batch), self.BATCH):
                    await self._publish(batch[start : start + self.BATCH])
            self._idle.set()

    def _take(self) -> list[tuple[str, Message]]:
        """Return what is queued and not older than what went out; remember it as published."""
        pending, self._pending = self._pending, {}
        batch = []
        for topic, message in pending.items():
            if not _newer(message, self._published.get(topic)):
                continue
            self._published.pop(topic, None)
            self._published[topic] = message
            batch.append((topic, message))
        while len(self._published) > self.REMEMBERED:
            del self._published[next(iter(self._published))]
        if self._products:
            batch.append((PRODUCTS_TOPIC, products_notice(self._products)))
            self._products = set()
        return batch

    async def _publish(self, batch: list[tuple[str, Message]]) -> None:
        if not batch:
            return
        try:
            await self._broker.publish_many(batch)
        except Exception as exc:  # a lost notice must not stop the notices after it
            if isinstance(exc, OSError | RedisError) or is_lost_connection(exc):
                # The broker away (or PostgreSQL out of connection slots): no bug to trace.
                log.warning("publishing on %s failed: %s", _topics_of(batch), exc)
            else:
                log.exception("publishing on %s failed", _topics_of(batch))

    async def flush(self) -> None:
        """Wait until every notice posted so far was published (or failed to be)."""
        if self._task is not None and not self._task.done() and not self._idle.is_set():
            await self._idle.wait()

    async def close(self) -> None:
        """Publish what is queued, then stop the task (one of another loop is only dropped)."""
        task = self._task
        if task is None or task.done() or self._loop is not asyncio.get_running_loop():
            self._task = None
            return
        try:
            await asyncio.wait_for(self.flush(), self.CLOSE_WAIT)
        except TimeoutError:
            log.warning("stopping with notices unpublished: the broker did not answer")
        finally:
            self._task = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _topics_of(batch: list[tuple[str, Message]]) -> str:
    topics = [topic for topic, _ in batch]
    shown = ", ".join(topics[:3])
    return shown if len(topics) <= 3 else f"{shown} and {len(topics) - 3} more"
