"""A refused or lost service connection is an outage (SERVICE_UNAVAILABLE), never a bug.

PostgreSQL out of connection slots refuses with SQLSTATE 53300, which reaches omnicart in two
forms: asyncpg's ``TooManyConnectionsError`` itself (the database event broker's own
connections) and SQLAlchemy's ``DBAPIError`` around it (the engines). Both are taken here
from a real server, through a role whose connection limit is used up.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.database_broker import DatabaseBroker
from server.errors import ErrorCode
from server.events import Publisher
from server.outages import as_unavailable, is_lost_connection
from tests.conftest import LimitedPostgres

SLOTS_TAKEN = asyncpg.exceptions.TooManyConnectionsError


async def _release(connections: list[asyncpg.Connection]) -> None:
    for connection in connections:
        await connection.close()


async def test_postgres_out_of_slots_is_an_outage_raw_and_wrapped_by_sqlalchemy(
    limited_postgres: LimitedPostgres,
) -> None:
    db = limited_postgres.db
    held = await limited_postgres.take_every_slot()
    try:
        with pytest.raises(SLOTS_TAKEN) as raw:
            await asyncpg.connect(limited_postgres.dsn)
        with pytest.raises(DBAPIError) as wrapped:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        with pytest.raises(DBAPIError) as page_read:
            async with db.autocommit_reads().connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await _release(held)
    assert raw.value.sqlstate == "53300"
    assert isinstance(wrapped.value.__cause__.__cause__, SLOTS_TAKEN)  # type: ignore[union-attr]
    assert not wrapped.value.connection_invalidated
    for refused in (raw.value, wrapped.value, page_read.value):
        unavailable = as_unavailable(refused)
        assert unavailable is not None
        assert (unavailable.code, unavailable.retryable) == (ErrorCode.SERVICE_UNAVAILABLE, True)


# The broker's two connections (publishing, listening) and the engine's one.
@pytest.mark.parametrize("limited_postgres", [3], indirect=True)
async def test_the_database_broker_out_of_slots_raises_an_outage_and_then_recovers(
    limited_postgres: LimitedPostgres,
) -> None:
    broker = DatabaseBroker(limited_postgres.db)
    held = await limited_postgres.take_every_slot()
    try:
        # Publishing opens the broker's own asyncpg connection: the raw form.
        with pytest.raises(SLOTS_TAKEN) as publishing:
            await broker.publish_many([("carts:1", {"version": 1})])
        # Subscribing listens on one (refused: it polls instead), then reads through the
        # engine: the wrapped form.
        with pytest.raises(DBAPIError) as subscribing:
            async with broker.subscribe("carts:1"):
                pass
        await _release(held)
        async with broker.subscribe("carts:1") as notices:
            await broker.publish_many([("carts:1", {"version": 2})])
            delivered = await anext(notices)
    finally:
        await _release(held)
        await broker.close()
    assert is_lost_connection(publishing.value)
    assert is_lost_connection(subscribing.value)
    assert delivered == {"version": 2}


async def test_notices_refused_a_connection_are_a_warning_not_a_traced_error(
    limited_postgres: LimitedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = Publisher(DatabaseBroker(limited_postgres.db))
    held = await limited_postgres.take_every_slot()
    try:
        publisher.post("carts:1", {"version": 1})
        await publisher.flush()
    finally:
        await _release(held)
        await publisher.close()
    records = [r for r in caplog.records if r.name == "omnicart.events"]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]
    assert (
        records[0]
        .getMessage()
        .startswith("publishing on carts:1 failed: too many connections for role")
    )


@pytest.mark.parametrize(
    "refusal",
    [
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.TooManyConnectionsError(
            "remaining connection slots are reserved for non-replication superuser connections"
        ),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.OutOfMemoryError("out of memory"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_every_refusal_for_want_of_server_resources_is_an_outage(refusal: Exception) -> None:
    # Server states a test cannot bring about on a shared server, raised as asyncpg raises them.
    assert is_lost_connection(refusal)


def test_a_configured_limit_one_request_went_past_stays_a_bug() -> None:
    # 53400, e.g. "out of shared memory" asking for max_locks_per_transaction: it fails again.
    assert not is_lost_connection(asyncpg.exceptions.ConfigurationLimitExceededError("x"))
