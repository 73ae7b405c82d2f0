"""Concurrent cart writers, for real: exact quantities, gapless versions, one winner per version."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import httpx
from sqlalchemy import event

from omnicart.app import create_app
from server.carts import AddLine, WriteOptions, add_lines, cart_for_viewer
from server.db import Database
from server.models import utcnow
from server.runtime import Runtime
from tests.clients import graphql, new_cart, settings_for
from tests.documents import ADD_LINES
from tests.live import serve_in_thread
from tests.rows import add_product, fresh_ean13
from tests.server.test_carts import guest_cart

CART = "query Cart($id: ID!) { cart(id: $id) { version lines { quantity } } }"


def asgi_clients(
    db: Database, tmp_path: Path, count: int, **overrides: object
) -> list[httpx.AsyncClient]:
    """Return ``count`` HTTP clients of one app (one server process) over ``db``."""
    settings = settings_for(db, tmp_path, **overrides)
    app = create_app(settings, Runtime(settings=settings, db=db), migrate=False)
    transport = httpx.ASGITransport(app=app)
    return [
        httpx.AsyncClient(transport=transport, base_url="http://omnicart.test")
        for _ in range(count)
    ]


async def add_one(
    client: httpx.AsyncClient, cart_id: str, reach: dict[str, str], code: str, **extra: object
) -> dict:  # type: ignore[type-arg]
    variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1}], **extra}}
    body = await graphql(client, ADD_LINES, variables, reach)
    return body["data"]["cartLinesAdd"]  # type: ignore[index,no-any-return]


async def adder(
    client: httpx.AsyncClient, cart_id: str, reach: dict[str, str], code: str, times: int
) -> list[int]:
    versions = []
    for _ in range(times):
        payload = await add_one(client, cart_id, reach, code)
        assert payload["errors"] == [], payload
        versions.append(payload["cart"]["version"])
    return versions


async def test_mutations_begin_immediate_on_sqlite(sqlite_db: Database, tmp_path: Path) -> None:
    begins: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    (client,) = asgi_clients(sqlite_db, tmp_path, 1)
    async with client:
        event.listen(sqlite_db.engine.sync_engine, "before_cursor_execute", record)
        try:
            cart_id, reach = await new_cart(client)
            await graphql(client, CART, {"id": cart_id}, reach)
        finally:
            event.remove(sqlite_db.engine.sync_engine, "before_cursor_execute", record)
    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


async def test_two_clients_adding_500_times_each_land_every_unit(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    first, second = asgi_clients(db, tmp_path, 2, max_line_quantity=1000)
    async with first, second:
        cart_id, reach = await new_cart(first)
        versions = await asyncio.gather(
            adder(first, cart_id, reach, code, 500), adder(second, cart_id, reach, code, 500)
        )
        final = await graphql(first, CART, {"id": cart_id}, reach)
    every = versions[0] + versions[1]
    assert sorted(every) == list(range(2, 1002))  # gapless, none twice
    assert final["data"]["cart"] == {"version": 1001, "lines": [{"quantity": 1000}]}


async def test_of_two_writers_with_one_expected_version_exactly_one_wins(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    first, second = asgi_clients(db, tmp_path, 2)
    async with first, second:
        cart_id, reach = await new_cart(first)
        expected = 1
        for _ in range(20):
            results = await asyncio.gather(
                add_one(first, cart_id, reach, code, expectedVersion=expected),
                add_one(second, cart_id, reach, code, expectedVersion=expected),
            )
            winners = [r for r in results if not r["errors"]]
            losers = [r for r in results if r["errors"]]
            assert len(winners) == len(losers) == 1, results
            assert winners[0]["cart"]["version"] == expected + 1
            assert losers[0]["errors"] == [{"code": "VERSION_CONFLICT"}]
            # The loser is told the cart as it is now: the winner's version.
            assert losers[0]["cart"] == winners[0]["cart"]
            expected += 1
        final = await graphql(first, CART, {"id": cart_id}, reach)
    assert final["data"]["cart"] == {"version": 21, "lines": [{"quantity": 20}]}


async def test_concurrent_retries_of_one_request_apply_it_once(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    clients = asgi_clients(db, tmp_path, 5)
    try:
        cart_id, reach = await new_cart(clients[0])
        results = await asyncio.gather(
            *(add_one(c, cart_id, reach, code, idempotencyKey="tap-1") for c in clients)
        )
        final = await graphql(clients[0], CART, {"id": cart_id}, reach)
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(r["replayed"] for r in results) == [False, True, True, True, True]
    assert {r["cart"]["version"] for r in results} == {2}
    assert final["data"]["cart"] == {"version": 2, "lines": [{"quantity": 1}]}


async def test_a_race_through_a_real_server_on_several_connections(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    settings = settings_for(db, tmp_path, max_line_quantity=1000)
    with serve_in_thread(settings) as base_url:
        # Separate clients (no shared pool) make separate TCP connections to uvicorn.
        clients = [httpx.AsyncClient(base_url=base_url, timeout=30) for _ in range(4)]
        try:
            cart_id, reach = await new_cart(clients[0])
            versions = await asyncio.gather(
                *(adder(client, cart_id, reach, code, 60) for client in clients)
            )
            final = await graphql(clients[0], CART, {"id": cart_id}, reach)
        finally:
            for client in clients:
                await client.aclose()
    assert sorted(v for per_client in versions for v in per_client) == list(range(2, 242))
    assert final["data"]["cart"] == {"version": 241, "lines": [{"quantity": 240}]}


async def test_cart_writes_cancelled_at_any_moment_leave_no_connection_holding_the_cart(
    db: Database,
) -> None:
    """Clients that hang up mid-write cancel their tasks wherever they are (at BEGIN, inside
    a statement, at COMMIT); a connection left inside a transaction nobody knows of would hold
    the cart's row lock for good and stall every later write of that cart."""
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    chance = random.Random(20261203)

    async def add() -> None:
        async with db.transaction() as session:
            await add_lines(
                session, holder, cart.id, [AddLine(1, product_id=product)], WriteOptions(),
                utcnow(), max_quantity=10_000,
            )  # fmt: skip

    async def maybe_cancelled() -> None:
        task = asyncio.create_task(add())
        await asyncio.sleep(chance.random() * 0.004)
        if chance.random() < 0.5:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    for _ in range(40):
        await asyncio.wait_for(asyncio.gather(*(maybe_cancelled() for _ in range(6))), 10)
    for _ in range(3):
        await asyncio.wait_for(add(), 10)
    async with db.transaction(write=False) as session:
        current = await cart_for_viewer(session, holder, cart.id, utcnow())
    assert current is not None
    # Every change that committed added one version and one unit, cancelled or not.
    assert [line.quantity for line in current.lines] == [current.version - 1]
