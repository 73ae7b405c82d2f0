"""Checkout below HTTP (``server.orders.checkout``): stock reserved all or nothing, every short
line named, a retry answered with the order already placed, a kiosk ordering some lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.carts import AddLine, CartView, WriteOptions, add_lines, cart_for_viewer, create_cart
from server.db import Database
from server.errors import AppError, InsufficientStock
from server.models import Order
from server.orders import (
    CheckoutRequest,
    CheckoutResult,
    ClickAndCollect,
    Delivery,
    UnavailableLine,
    checkout,
)
from server.tokens import token_hash
from server.viewer import Viewer
from tests.rows import (
    add_customer,
    add_online_warehouse,
    add_product,
    add_store,
    claim_cart,
    device_viewer,
    stock_figures,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def cart_of(
    db: Database, holder: Viewer | None, lines: dict[int, int]
) -> tuple[Viewer, CartView]:
    """Fill a cart (the customer's, or a new guest cart when ``holder`` is None)."""
    async with db.transaction() as session:
        created, _ = await create_cart(session, holder or Viewer(), NOW)
        if holder is None:
            assert created.token is not None
            holder = Viewer(cart_token_hash=token_hash(created.token))
        change = await add_lines(
            session,
            holder,
            created.cart.id,
            [AddLine(units, product_id=pid) for pid, units in lines.items()],
            WriteOptions(),
            NOW,
            max_quantity=99,
        )
    return holder, change.cart


def collect(store_id: int, cart: CartView, **request: object) -> CheckoutRequest:
    return CheckoutRequest(
        cart_id=cart.id,
        expected_version=cart.version,
        fulfilment=ClickAndCollect(store_id),
        **request,  # type: ignore[arg-type]
    )


async def place(db: Database, viewer: Viewer, request: CheckoutRequest) -> CheckoutResult:
    async with db.transaction() as session:
        return await checkout(session, viewer, request, now=NOW, currency="NOK", pickup_days=7)


async def refused(db: Database, viewer: Viewer, request: CheckoutRequest) -> AppError:
    """Check out in a transaction that commits after the refusal: the service leaves nothing."""
    async with db.transaction() as session:
        with pytest.raises(AppError) as raised:
            await checkout(session, viewer, request, now=NOW, currency="NOK", pickup_days=7)
    return raised.value


async def order_count(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def seen(db: Database, viewer: Viewer, cart_id: int) -> CartView | None:
    async with db.transaction(write=False) as session:
        return await cart_for_viewer(session, viewer, cart_id, NOW)


async def test_collect_reserves_at_the_store_and_closes_a_guests_cart(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    milk = await add_product(db, price=2490, stock={location: (5, 1)})
    holder, cart = await cart_of(db, None, {milk: 3})
    placed = await place(db, holder, collect(store_id, cart))
    assert placed.replayed is False and placed.cart is None
    assert (placed.order.status, placed.order.location_id) == ("placed", location)
    assert (placed.order.subtotal, placed.order.total) == (3 * 2490, 3 * 2490)
    assert [(line.product_id, line.quantity, line.unit_price) for line in placed.lines] == [
        (milk, 3, 2490)
    ]
    # Reserved counts the unit reserved before and these three, which the order holds.
    assert await stock_figures(db, location, milk) == (5, 4, 3)
    assert await seen(db, holder, cart.id) is None


async def test_delivery_reserves_at_the_online_warehouse_and_a_customer_gets_a_new_cart(
    db: Database,
) -> None:
    online = await add_online_warehouse(db)
    _, location = await add_store(db, "OSL")
    nuts = await add_product(db, stock={online: (4, 0), location: (9, 0)})
    customer = Viewer(customer_id=await add_customer(db, "kari@example.com"))
    _, cart = await cart_of(db, customer, {nuts: 4})
    request = CheckoutRequest(cart.id, cart.version, Delivery("  Storgata 1,\n Oslo "))
    placed = await place(db, customer, request)
    assert placed.order.delivery_address == "Storgata 1, Oslo"
    assert await stock_figures(db, online, nuts) == (4, 4, 4)
    assert await stock_figures(db, location, nuts) == (9, 0, 0)
    assert placed.cart is not None and placed.cart.id != cart.id
    assert (placed.cart.version, placed.cart.lines) == (1, ())


async def test_a_short_line_reserves_nothing_and_every_short_line_is_named(
    db: Database,
) -> None:
    store_id, location = await add_store(db, "OSL")
    plenty = await add_product(db, name="Plenty", stock={location: (10, 0)})
    few = await add_product(db, name="Few", stock={location: (3, 1)})
    none = await add_product(db, name="None")
    holder, cart = await cart_of(db, None, {plenty: 5, few: 3, none: 1})
    error = await refused(db, holder, collect(store_id, cart))
    assert isinstance(error, InsufficientStock)
    few_line, none_line = cart.lines[1].id, cart.lines[2].id
    assert error.details == [
        UnavailableLine(few_line, few, 3, 2),
        UnavailableLine(none_line, none, 1, 0),
    ]
    assert "Few: 3 asked, 2 available; None: 1 asked, 0 available." in error.message
    assert await stock_figures(db, location, plenty) == (10, 0, 0)
    assert await stock_figures(db, location, few) == (3, 1, 0)
    assert await order_count(db) == 0
    assert await seen(db, holder, cart.id) == cart


async def test_a_retry_with_its_key_answers_the_order_and_reserves_once(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    eggs = await add_product(db, stock={location: (5, 0)})
    holder, cart = await cart_of(db, None, {eggs: 2})
    request = collect(store_id, cart, idempotency_key="checkout-1")
    first = await place(db, holder, request)
    again = await place(db, holder, request)
    assert (first.replayed, again.replayed) == (False, True)
    assert (again.order, again.lines) == (first.order, first.lines)
    assert await stock_figures(db, location, eggs) == (5, 2, 2)
    assert await order_count(db) == 1


async def test_a_kiosk_orders_the_lines_it_names_and_the_rest_stay_in_the_cart(
    db: Database,
) -> None:
    _, here = await add_store(db, "OSL")
    there_id, there = await add_store(db, "BGO")
    shelf = await add_product(db, stock={here: (5, 0)})
    elsewhere = await add_product(db, stock={there: (6, 0)})
    holder, cart = await cart_of(db, None, {shelf: 2, elsewhere: 2})
    kiosk = await device_viewer(db, "OSL", "kiosk")
    assert kiosk.device is not None
    await claim_cart(db, cart.id, kiosk.device.id, NOW + timedelta(minutes=30))
    split = collect(there_id, cart, line_ids=(cart.lines[1].id,))
    placed = await place(db, kiosk, split)
    assert (placed.order.channel, placed.order.store_id) == ("kiosk", kiosk.device.store_id)
    assert placed.order.pickup_store_id == there_id
    assert [(line.product_id, line.quantity) for line in placed.lines] == [(elsewhere, 2)]
    assert placed.cart is not None and placed.cart.id == cart.id
    assert placed.cart.version == cart.version + 1
    assert [(line.product_id, line.quantity) for line in placed.cart.lines] == [(shelf, 2)]
    assert await seen(db, holder, cart.id) == placed.cart
    assert await stock_figures(db, there, elsewhere) == (6, 2, 2)
    assert await stock_figures(db, here, shelf) == (5, 0, 0)


async def test_lines_to_order_must_be_lines_of_the_cart(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    eggs = await add_product(db, stock={location: (5, 0)})
    holder, cart = await cart_of(db, None, {eggs: 1})
    line = cart.lines[0].id
    refusals = [
        (e.code, e.field)
        for e in [
            await refused(db, holder, collect(store_id, cart, line_ids=(line + 1000,))),
            await refused(db, holder, collect(store_id, cart, line_ids=(line, line))),
            await refused(db, holder, collect(store_id, cart, line_ids=())),
        ]
    ]
    assert refusals == [
        ("NOT_FOUND", "lineIds[0]"),
        ("INVALID_INPUT", "lineIds[1]"),
        ("INVALID_INPUT", "lineIds"),
    ]
    assert await seen(db, holder, cart.id) == cart
