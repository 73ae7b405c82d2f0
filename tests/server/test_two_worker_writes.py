"""Writers in two real uvicorn worker processes over one database, SQLite and PostgreSQL.

The races of ``test_cart_races`` and ``test_checkout_races`` again, each side of them in
its own process (as ``omnicart serve --workers 2`` runs them), so the writers meet at the
database's own locks rather than at one process's writer line: smaller counts (200 adds
instead of 1,000, 100 checkouts for 10 units instead of 200) keep them quick while every
request still races. And SQLite's write burst: a writer of one process waiting for the
other's lock waits a bounded time (``OMNICART_SQLITE_BUSY_TIMEOUT_MS``) and then answers
a typed ``SERVICE_UNAVAILABLE`` (try again), never a raw "database is locked".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from server.db import Database
from server.models import Order, StockLevel
from tests.clients import graphql, new_cart
from tests.documents import ADD_LINES, CART
from tests.live import serve_in_process
from tests.rows import add_product, add_store, fresh_ean13
from tests.server.test_checkout_races import cart_with, place, reservations_add_up
from tests.server.test_workers import worker_env

CREATE_CART = "mutation { cartCreate { cart { id } cartToken errors { code } } }"


@contextmanager
def two_workers(
    db: Database, tmp_path: Path, **settings: str
) -> Iterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Start two worker processes over ``db``; yield a client of each (many connections)."""
    env = worker_env(db, tmp_path) | {
        "OMNICART_MAX_LINE_QUANTITY": "1000",
        **{f"OMNICART_{k.upper()}": v for k, v in settings.items()},
    }
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    with serve_in_process(env) as first_url, serve_in_process(env) as second_url:
        yield (
            httpx.AsyncClient(base_url=first_url, timeout=120, limits=limits),
            httpx.AsyncClient(base_url=second_url, timeout=120, limits=limits),
        )


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a document; return the body of a 200, or of a 503 (then SERVICE_UNAVAILABLE)."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code in (200, 503), response.text
    body: dict[str, Any] = response.json()
    if response.status_code == 503:
        assert_unavailable([body])
    return body


async def add_one(
    client: httpx.AsyncClient, cart_id: str, reach: dict[str, str], code: str
) -> dict[str, Any]:
    """Add one unit; return the whole response body (data or top-level errors)."""
    variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1}]}}
    return await post(client, ADD_LINES, variables, reach)


def version_of(body: dict[str, Any]) -> int:
    """Return the version a successful add answered; fail on anything else."""
    payload = body["data"]["cartLinesAdd"]
    assert payload["errors"] == [], body
    return int(payload["cart"]["version"])


async def adder(
    client: httpx.AsyncClient, cart_id: str, reach: dict[str, str], code: str, times: int
) -> list[int]:
    return [version_of(await add_one(client, cart_id, reach, code)) for _ in range(times)]


async def test_four_writers_in_two_workers_add_200_units_exactly(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    with two_workers(db, tmp_path) as (first, second):
        async with first, second:
            cart_id, reach = await new_cart(first)
            versions = await asyncio.gather(
                *(adder(c, cart_id, reach, code, 50) for c in (first, second, first, second))
            )
            final = await graphql(second, CART, {"id": cart_id}, reach)
    every = [v for run in versions for v in run]
    assert sorted(every) == list(range(2, 202))  # gapless, none twice, across processes
    assert final["data"]["cart"] == {"id": cart_id, "version": 201, "lines": [{"quantity": 200}]}


async def test_100_checkouts_in_two_workers_for_10_units_reserve_exactly_10(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], stock={location: (10, 0)})
    with two_workers(db, tmp_path) as (first, second):
        async with first, second:
            clients = [first, second] * 50
            carts = await asyncio.gather(*(cart_with(c, [(code, 1)]) for c in clients))
            results = await asyncio.gather(
                *(place(c, cart, store_id) for c, cart in zip(clients, carts, strict=True))
            )
    placed = [r for r in results if not r["errors"]]
    assert len(placed) == 10
    assert len({r["order"]["number"] for r in placed}) == 10
    assert [r["errors"] for r in results if r["errors"]] == [[{"code": "INSUFFICIENT_STOCK"}]] * 90
    async with db.transaction(write=False) as session:
        level = (
            await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.location_id == location, StockLevel.product_id == product_id
                )
            )
        ).one()
        orders = await session.scalar(select(func.count()).select_from(Order))
    assert (tuple(level), orders) == ((10, 10), 10)
    await reservations_add_up(db)


def assert_unavailable(refused: list[dict[str, Any]]) -> None:
    """Every refusal is SERVICE_UNAVAILABLE, retryable, saying to try again."""
    for body in refused:
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
        assert error["extensions"]["retryable"] is True, body
        assert "try again" in error["message"], body
