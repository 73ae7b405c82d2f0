"""Concurrent checkouts, for real: no oversell, all-or-nothing, reservations add up."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
from sqlalchemy import func, select

from omnicart.app import create_app
from schema.ids import encode_id
from server.db import Database
from server.models import Order, StockLevel, StockReservation
from server.runtime import Runtime
from server.stock.reconcile import check_stock
from tests.clients import graphql, settings_for
from tests.documents import CART_CREATE
from tests.rows import add_product, add_store, fresh_ean13

CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { number lines { quantity } }
    unavailableLines { requested available }
    errors { code }
  }
}
"""


def app_client(db: Database, tmp_path: Path) -> httpx.AsyncClient:
    """Return a client of one app (one server process, one connection pool) over ``db``."""
    settings = settings_for(db, tmp_path, index_on_start=False)
    app = create_app(settings, Runtime(settings=settings, db=db), migrate=False)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://omnicart.test", timeout=120
    )


async def cart_with(
    client: httpx.AsyncClient, lines: list[tuple[str, int]]
) -> tuple[str, int, dict[str, str]]:
    """Create a guest cart holding ``lines``; return its id, version and headers."""
    variables = {"input": {"lines": [{"gtin": g, "quantity": q} for g, q in lines]}}
    payload = (await graphql(client, CART_CREATE, variables))["data"]["cartCreate"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    cart = payload["cart"]
    return cart["id"], cart["version"], {"X-Cart-Token": payload["cartToken"]}


async def place(
    client: httpx.AsyncClient, cart: tuple[str, int, dict[str, str]], store_id: int
) -> dict:  # type: ignore[type-arg]
    cart_id, version, reach = cart
    variables = {
        "input": {
            "cartId": cart_id,
            "expectedVersion": version,
            "fulfilment": {"clickAndCollect": {"storeId": encode_id("Store", store_id)}},
        }
    }
    body = await graphql(client, CHECKOUT, variables, reach)
    assert "errors" not in body, body
    return body["data"]["checkout"]  # type: ignore[index,no-any-return]


async def reservations_add_up(db: Database) -> None:
    """Assert every stock level's reserved equals its held reservations, within on hand."""
    async with db.transaction(write=False) as session:
        levels = (
            await session.execute(
                select(
                    StockLevel.location_id,
                    StockLevel.product_id,
                    StockLevel.on_hand,
                    StockLevel.reserved,
                )
            )
        ).all()
        held = dict(
            (
                (row.location_id, row.product_id),
                row.units,
            )
            for row in await session.execute(
                select(
                    StockReservation.location_id,
                    StockReservation.product_id,
                    func.sum(StockReservation.quantity).label("units"),
                )
                .where(StockReservation.status == "held")
                .group_by(StockReservation.location_id, StockReservation.product_id)
            )
        )
    for location_id, product_id, on_hand, reserved in levels:
        assert 0 <= reserved <= on_hand
        assert held.get((location_id, product_id), 0) == reserved
    # And `omnicart stock check` finds nothing to repair after the races.
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []


async def test_200_checkouts_racing_for_10_units_reserve_exactly_10(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], stock={location: (10, 0)})
    async with app_client(db, tmp_path) as client:
        carts = await asyncio.gather(*(cart_with(client, [(code, 1)]) for _ in range(200)))
        results = await asyncio.gather(*(place(client, cart, store_id) for cart in carts))
    placed = [r for r in results if not r["errors"]]
    refused = [r for r in results if r["errors"]]
    assert len(placed) == 10
    assert len({r["order"]["number"] for r in placed}) == 10
    assert len(refused) == 190
    for r in refused:
        assert r == {
            "order": None,
            "unavailableLines": [{"requested": 1, "available": 0}],
            "errors": [{"code": "INSUFFICIENT_STOCK"}],
        }
    async with db.transaction(write=False) as session:
        level = (
            await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.location_id == location, StockLevel.product_id == product_id
                )
            )
        ).one()
        orders = await session.scalar(select(func.count()).select_from(Order))
    assert tuple(level) == (10, 10)
    assert orders == 10
    await reservations_add_up(db)


async def test_multi_line_carts_racing_for_hot_products_never_oversell(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    codes = [fresh_ean13() for _ in range(3)]
    stock = {code: 12 + 5 * i for i, code in enumerate(codes)}
    ids = {
        code: await add_product(db, gtins=[code], stock={location: (units, 0)})
        for code, units in stock.items()
    }
    rng = random.Random(5)
    wanted = [
        [(code, rng.randint(1, 3)) for code in rng.sample(codes, rng.randint(1, 3))]
        for _ in range(60)
    ]
    async with app_client(db, tmp_path) as client:
        carts = await asyncio.gather(*(cart_with(client, lines) for lines in wanted))
        results = await asyncio.gather(*(place(client, cart, store_id) for cart in carts))
    taken = dict.fromkeys(codes, 0)
    for lines, result in zip(wanted, results, strict=True):
        if not result["errors"]:
            assert [line["quantity"] for line in result["order"]["lines"]] == [q for _, q in lines]
            for code, quantity in lines:
                taken[code] += quantity
        else:
            assert result["errors"] == [{"code": "INSUFFICIENT_STOCK"}]
            assert result["unavailableLines"]
    async with db.transaction(write=False) as session:
        reserved = dict(
            (
                await session.execute(
                    select(StockLevel.product_id, StockLevel.reserved).where(
                        StockLevel.location_id == location
                    )
                )
            ).all()
        )
    for code in codes:
        # Every unit some order holds is reserved, and none beyond what is on hand.
        assert reserved[ids[code]] == taken[code] <= stock[code]
    # Contention was real: some checkouts had to be refused.
    assert any(result["errors"] for result in results)
    await reservations_add_up(db)


async def test_concurrent_retries_of_one_checkout_place_one_order(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={location: (10, 0)})
    retry = """
    mutation Checkout($input: CheckoutInput!) {
      checkout(input: $input) { order { number } replayed errors { code } }
    }
    """
    async with app_client(db, tmp_path) as client:
        cart_id, version, reach = await cart_with(client, [(code, 2)])
        variables = {
            "input": {
                "cartId": cart_id,
                "expectedVersion": version,
                "fulfilment": {"clickAndCollect": {"storeId": encode_id("Store", store_id)}},
                "idempotencyKey": "double-tap",
            }
        }
        bodies = await asyncio.gather(*(graphql(client, retry, variables, reach) for _ in range(5)))
    results = [body["data"]["checkout"] for body in bodies]  # type: ignore[index]
    assert all(r["errors"] == [] for r in results), results
    assert len({r["order"]["number"] for r in results}) == 1
    assert sorted(r["replayed"] for r in results) == [False, True, True, True, True]
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
    await reservations_add_up(db)
