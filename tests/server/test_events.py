"""The event brokers: in-process, and Redis pub/sub across separate broker instances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.db import Database
from server.events import PRODUCTS_TOPIC, Broker, InProcessBroker, RedisBroker, cart_topic
from tests.clients import client_of, collect_at, graphql, place_order, runtime_for
from tests.conftest import REDIS_URL, require_service
from tests.documents import CART_CREATE
from tests.rows import add_product, fresh_ean13, store_with_product


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


async def test_redis_delivers_every_notice_of_a_batch(redis_pair: tuple[Broker, Broker]) -> None:
    publisher, subscriber_side = redis_pair
    async with (
        subscriber_side.subscribe(cart_topic(1)) as one,
        subscriber_side.subscribe(cart_topic(2)) as two,
    ):
        await publisher.publish_many(
            [(cart_topic(1), {"id": 1, "version": 4}), (cart_topic(2), {"id": 2, "version": 9})]
        )
        assert await next_message(one) == {"id": 1, "version": 4}
        assert await next_message(two) == {"id": 2, "version": 9}


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


POISONED_CHECKOUT = """
mutation Checkout($input: CheckoutInput!, $code: String!) {
  checkout(input: $input) { order { id } errors { code } }
  scan(input: {code: $code}) { product { alternatives(first: 999) { id } } }
}
"""


async def test_a_checkout_announces_its_products_after_commit_and_a_rollback_announces_none(
    db: Database, tmp_path: Path
) -> None:
    runtime = runtime_for(db, tmp_path)
    store_id, location, rolled_back, _ = await store_with_product(db, on_hand=3)
    placed = fresh_ean13()
    placed_id = await add_product(db, gtins=[placed], stock={location: (3, 0)})
    async with runtime.events.subscribe(PRODUCTS_TOPIC) as notices:
        async with client_of(runtime) as client:
            lines = {"input": {"lines": [{"gtin": rolled_back, "quantity": 1}]}}
            created = await graphql(client, CART_CREATE, lines)
            cart = created["data"]["cartCreate"]  # type: ignore[index]
            request = {
                "cartId": cart["cart"]["id"],
                "expectedVersion": cart["cart"]["version"],
                "fulfilment": collect_at(store_id),
            }
            reach = {"X-Cart-Token": cart["cartToken"]}
            poisoned = await graphql(
                client, POISONED_CHECKOUT, {"input": request, "code": placed}, reach
            )
            await place_order(client, [(placed, 2)], collect_at(store_id))
            # The first notice is the committed checkout's: the rolled-back one sent none.
            heard = await asyncio.wait_for(anext(notices), 5)
    assert [e["message"] for e in poisoned["errors"]] == ["Ask for 0 to 20 alternatives."]
    assert heard == {"productIds": [placed_id]}
