"""The database broker: live events between workers that share only the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, insert, select

from server.config import Settings
from server.database_broker import DatabaseBroker
from server.db import Database
from server.events import DATABASE_BROKER, PRODUCTS_TOPIC, Publisher, cart_topic, order_topic
from server.models import EventNotice, utcnow
from server.runtime import create_broker
from tests.server.test_write_statements import statements_of

Stream = AsyncIterator[dict[str, object]]


async def next_message(stream: Stream) -> dict[str, object]:
    return await asyncio.wait_for(anext(stream), timeout=10)


async def nothing_within(stream: Stream, seconds: float = 0.3) -> None:
    """Assert that nothing arrives; this ends the stream, so call it last on a stream."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), timeout=seconds)


@pytest.fixture
async def two_workers(db: Database) -> AsyncIterator[tuple[DatabaseBroker, DatabaseBroker]]:
    """Two brokers over one database, as two server workers have them."""
    first, second = DatabaseBroker(db, interval=0.01), DatabaseBroker(db, interval=0.01)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def notice_count(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int((await session.execute(select(func.count(EventNotice.id)))).scalar_one())


async def write_notice(db: Database, notice_id: int, version: int) -> None:
    """Insert a notice with a chosen id, as a publisher whose commit came late would leave it."""
    async with db.transaction() as session:
        await session.execute(
            insert(EventNotice).values(
                id=notice_id, topic="t", message={"version": version}, created_at=utcnow()
            )
        )


async def test_a_notice_published_by_one_worker_reaches_the_other(
    two_workers: tuple[DatabaseBroker, DatabaseBroker],
) -> None:
    publisher, listener = two_workers
    async with listener.subscribe(cart_topic(7)) as one, listener.subscribe(cart_topic(7)) as two:
        async with listener.subscribe(cart_topic(8)) as other:
            await publisher.publish(cart_topic(7), {"id": 7, "version": 3})
            assert await next_message(one) == {"id": 7, "version": 3}
            assert await next_message(two) == {"id": 7, "version": 3}
            await nothing_within(other)


async def test_notices_arrive_in_publishing_order(
    two_workers: tuple[DatabaseBroker, DatabaseBroker],
) -> None:
    publisher, listener = two_workers
    async with listener.subscribe("t") as stream:
        for version in range(1, 6):
            await publisher.publish("t", {"version": version})
        assert [(await next_message(stream))["version"] for _ in range(5)] == [1, 2, 3, 4, 5]


async def test_a_publishers_batch_is_coalesced_and_written_in_one_statement(db: Database) -> None:
    broker = DatabaseBroker(db)
    publisher = Publisher(broker)
    with statements_of(db) as sent:
        # Queued before the publisher's task runs, so they go out as one batch.
        publisher.post(cart_topic(1), {"id": 1, "version": 3})
        publisher.post(cart_topic(1), {"id": 1, "version": 2})
        publisher.announce_products({7, 3})
        publisher.post(order_topic(5), {"id": 5, "version": 1})
        publisher.announce_products({5, 3})
        await publisher.flush()
    await publisher.close()
    await broker.close()
    # SQLite: BEGIN IMMEDIATE and one executemany; PostgreSQL: none through the pool, one
    # INSERT … pg_notify on the broker's own connection.
    assert len(sent) == (2 if db.is_sqlite else 0), sent
    async with db.transaction(write=False) as session:
        rows = (await session.execute(select(EventNotice.topic, EventNotice.message))).all()
    assert sorted((topic, message) for topic, message in rows) == [
        (cart_topic(1), {"id": 1, "version": 3}),
        (order_topic(5), {"id": 5, "version": 1}),
        (PRODUCTS_TOPIC, {"productIds": [3, 5, 7]}),
    ]


async def test_a_workers_own_publish_wakes_its_poller(db: Database) -> None:
    # Without the wake-up this poller would next look in an hour.
    broker = DatabaseBroker(db, idle=3600)
    try:
        async with broker.subscribe("t") as stream:
            await broker.publish("t", {"version": 1})
            assert await next_message(stream) == {"version": 1}
    finally:
        await broker.close()


async def test_on_postgresql_a_notice_committed_elsewhere_wakes_the_poller(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no notification channel: pollers poll")
    # The publisher's insert notifies on its own connection; the listener, which would next
    # poll in an hour, hears it on the connection it LISTENs on.
    listener, publisher = DatabaseBroker(db, idle=3600), DatabaseBroker(db)
    try:
        async with listener.subscribe("t") as stream:
            await publisher.publish_many([("t", {"version": 1}), ("t", {"version": 2})])
            assert [await next_message(stream), await next_message(stream)] == [
                {"version": 1},
                {"version": 2},
            ]
    finally:
        await publisher.close()
        await listener.close()


async def test_notices_older_than_the_grace_are_history_to_a_new_subscriber(db: Database) -> None:
    publisher, listener = DatabaseBroker(db, grace=0), DatabaseBroker(db, interval=0.01, grace=0)
    try:
        await publisher.publish("t", {"version": 1})
        async with listener.subscribe("t") as stream:
            await publisher.publish("t", {"version": 2})
            # In order, so version 1 would have come first.
            assert await next_message(stream) == {"version": 2}
    finally:
        await publisher.close()
        await listener.close()


async def test_a_lower_id_committed_late_is_still_delivered_within_the_grace(db: Database) -> None:
    broker = DatabaseBroker(db, interval=3600, grace=3600)
    try:
        async with broker.subscribe("t") as stream:
            await write_notice(db, 50, 2)
            await broker.poll_once()
            assert await next_message(stream) == {"version": 2}
            # Id 40 was taken before 50 but committed after it was read.
            await write_notice(db, 40, 1)
            assert await broker.poll_once() == 1
            assert await next_message(stream) == {"version": 1}
            # Each notice is delivered once, however often it is read again.
            assert await broker.poll_once() == 0
            await nothing_within(stream)
    finally:
        await broker.close()


async def test_without_grace_the_mark_moves_past_what_was_read(db: Database) -> None:
    broker = DatabaseBroker(db, interval=3600, grace=0)
    try:
        async with broker.subscribe("t") as stream:
            await write_notice(db, 50, 2)
            await broker.poll_once()
            assert await next_message(stream) == {"version": 2}
            await write_notice(db, 40, 1)
            assert await broker.poll_once() == 0
            await nothing_within(stream)
    finally:
        await broker.close()


async def test_pruning_deletes_only_notices_older_than_kept(db: Database) -> None:
    broker = DatabaseBroker(db, keep=timedelta(seconds=60))
    async with db.transaction() as session:
        for age in (3600, 61, 10):
            await session.execute(
                insert(EventNotice).values(
                    topic="t", message={"age": age}, created_at=utcnow() - timedelta(seconds=age)
                )
            )
    await broker.prune()
    async with db.transaction(write=False) as session:
        left = list((await session.execute(select(EventNotice.message))).scalars())
    assert left == [{"age": 10}]
    await broker.close()


async def test_ids_never_repeat_after_every_notice_was_pruned(db: Database) -> None:
    broker = DatabaseBroker(db, keep=timedelta(0))
    await broker.publish("t", {"version": 1})
    async with db.transaction(write=False) as session:
        first_id = (await session.execute(select(func.max(EventNotice.id)))).scalar_one()
    await broker.prune()
    assert await notice_count(db) == 0
    await broker.publish("t", {"version": 2})
    async with db.transaction(write=False) as session:
        second_id = (await session.execute(select(func.max(EventNotice.id)))).scalar_one()
    assert second_id == first_id + 1
    await broker.close()


async def test_health_reports_ok_while_the_table_answers(db: Database) -> None:
    broker = create_broker(DATABASE_BROKER, db=db)
    assert isinstance(broker, DatabaseBroker)
    assert await broker.health() == "ok"
    await broker.close()


def test_the_database_broker_needs_the_database() -> None:
    with pytest.raises(ValueError, match="the database broker needs the database"):
        create_broker(DATABASE_BROKER)


def test_settings_accept_database_and_name_it_when_refusing_others() -> None:
    assert Settings(broker_url="database").broker_url == "database"
    with pytest.raises(ValidationError, match="`database` \\(events through the database"):
        Settings(broker_url="postgres://somewhere")
