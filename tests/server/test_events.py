"""The event brokers: in-process, and Redis pub/sub across separate broker instances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from server.events import Broker, InProcessBroker, RedisBroker, cart_topic
from tests.conftest import REDIS_URL, require_service


async def next_message(stream: AsyncIterator[dict[str, object]]) -> dict[str, object]:
    return await asyncio.wait_for(anext(stream), timeout=5)


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[Broker, Broker]]:
    """Two Redis brokers as two server processes would have, on a topic space of their own."""
    if not REDIS_URL:
        require_service("Redis", "OMNICART_TEST_REDIS_URL")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first, second = RedisBroker(REDIS_URL, prefix=prefix), RedisBroker(REDIS_URL, prefix=prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_in_process_subscribers_each_get_the_message() -> None:
    broker = InProcessBroker()
    async with broker.subscribe(cart_topic(1)) as a, broker.subscribe(cart_topic(1)) as b:
        async with broker.subscribe(cart_topic(2)) as other:
            await broker.publish(cart_topic(1), {"id": 1, "version": 2})
            assert await next_message(a) == {"id": 1, "version": 2}
            assert await next_message(b) == {"id": 1, "version": 2}
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(other), timeout=0.2)


async def test_a_slow_subscriber_keeps_the_newest_notices() -> None:
    broker = InProcessBroker()
    async with broker.subscribe("t") as stream:
        for version in range(200):
            await broker.publish("t", {"version": version})
        first = await next_message(stream)
    # The oldest notices were dropped, never the newest.
    assert first["version"] == 200 - 64


async def test_redis_delivers_across_brokers(redis_pair: tuple[Broker, Broker]) -> None:
    publisher, subscriber_side = redis_pair
    async with (
        subscriber_side.subscribe(cart_topic(7)) as one,
        subscriber_side.subscribe(cart_topic(7)) as two,
    ):
        await publisher.publish(cart_topic(7), {"id": 7, "version": 3})
        assert await next_message(one) == {"id": 7, "version": 3}
        assert await next_message(two) == {"id": 7, "version": 3}


async def test_redis_keeps_topics_apart(redis_pair: tuple[Broker, Broker]) -> None:
    publisher, subscriber_side = redis_pair
    async with subscriber_side.subscribe(cart_topic(1)) as wanted:
        async with subscriber_side.subscribe(cart_topic(2)) as unwanted:
            await publisher.publish(cart_topic(1), {"id": 1})
            assert await next_message(wanted) == {"id": 1}
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(unwanted), timeout=0.3)


async def test_redis_resubscribes_after_the_last_listener_left(
    redis_pair: tuple[Broker, Broker],
) -> None:
    publisher, subscriber_side = redis_pair
    async with subscriber_side.subscribe("again") as stream:
        await publisher.publish("again", {"n": 1})
        assert await next_message(stream) == {"n": 1}
    async with subscriber_side.subscribe("again") as stream:
        await publisher.publish("again", {"n": 2})
        assert await next_message(stream) == {"n": 2}


async def test_health_reports_an_unreachable_redis() -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0")
    try:
        assert await broker.health() == "unavailable"
    finally:
        await broker.close()
