"""Checkout: a cart at the version the shopper saw becomes an order holding its stock.

See ``server.orders`` for the rules; this module is the one transaction that applies them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog, pricing
from server.carts import CartView, active_cart_of, cart_for_viewer, load_view
from server.carts.closing import close_cart, start_fresh_cart, take_lines
from server.carts.idempotency import check_key, fingerprint
from server.carts.service import lock_customer
from server.carts.views import reachable_by
from server.errors import (
    IdempotencyKeyReused,
    NotFound,
    VersionConflict,
)
from server.models import (
    Cart,
    CartLine,
    Order,
    OrderLine,
    OrderStatusChange,
    StockLocation,
    StockReservation,
    Store,
)
from server.orders import stock
from server.orders.access import shopper_placed
from server.orders.requests import (
    CartLineSnapshot,
    CheckoutRequest,
    CheckoutResult,
    ClickAndCollect,
    Fulfilment,
    actor_of,
    canonical,
    channel_of,
    check_line_ids,
    checked_fulfilment,
    choose_lines,
    insufficient,
)
from server.orders.views import (
    OrderLineView,
    OrderView,
    lines_by_order,
    order_for_key,
    request_hash_of,
)
from server.outbox import record_product_changes
from server.states import FulfilmentMethod, OrderChannel, OrderStatus, ReservationStatus
from server.viewer import Viewer

_LINE_SNAPSHOT = (
    "position",
    "product_id",
    "gtin",
    "name",
    "unit_price",
    "regular_unit_price",
    "campaign_name",
    "quantity",
    "line_total",
    "returned_quantity",
)


@dataclass(frozen=True, slots=True)
class _Locked:
    version: int
    customer_id: int | None
    token_hash: str | None


class _Replayed(Exception):
    """Unwinds a checkout whose idempotency key already placed an order."""

    def __init__(self, result: CheckoutResult) -> None:
        super().__init__("replayed")
        self.result = result


async def checkout(
    session: AsyncSession,
    viewer: Viewer,
    request: CheckoutRequest,
    *,
    now: datetime,
    currency: str,
    pickup_days: int,
) -> CheckoutResult:
    """Turn the cart (or the chosen lines) into an order, reserving its stock all or nothing.

    Raises NotFound (cart, lines, store), VersionConflict (with the current cart),
    InsufficientStock (``details``: the UnavailableLine list), InvalidInput and
    IdempotencyKeyReused; any of them leaves everything as it was.
    """
    key = check_key(request.idempotency_key)
    request_hash = fingerprint("checkout", canonical(request))
    fulfilment = checked_fulfilment(request.fulfilment)
    channel = channel_of(viewer, request.channel)
    check_line_ids(request.line_ids)
    try:
        async with session.begin_nested():
            locked = await _lock_cart(session, viewer, request, now)
            if locked is None:
                return await _refusal(session, viewer, request, key, request_hash, now)
            if key is not None:
                earlier = await order_for_key(session, request.cart_id, key)
                if earlier is not None:
                    await _check_same_request(session, earlier, request_hash)
                    raise _Replayed(await _replay(session, viewer, earlier, now))
            return await _place(
                session,
                viewer,
                request,
                locked,
                fulfilment,
                channel,
                key=key,
                request_hash=request_hash,
                now=now,
                currency=currency,
                pickup_days=pickup_days,
            )
    except _Replayed as replayed:
        return replayed.result


async def _place(
    session: AsyncSession,
    viewer: Viewer,
    request: CheckoutRequest,
    locked: _Locked,
    fulfilment: Fulfilment,
    channel: OrderChannel,
    *,
    key: str | None,
    request_hash: str,
    now: datetime,
    currency: str,
    pickup_days: int,
) -> CheckoutResult:
    cart_id = request.cart_id
    every = await _cart_lines(session, cart_id)
    chosen = choose_lines(every, request.line_ids)
    location, where = await _location(session, fulfilment)
    product_ids = sorted({line.product_id for line in chosen})
    products = await catalog.products_by_ids(session, product_ids)
    prices = await pricing.unit_prices(session, product_ids, currency, at=now)
    barcodes = await catalog.barcodes_by_product(session, product_ids)
    wanted: dict[int, int] = defaultdict(int)
    for line in chosen:
        wanted[line.product_id] += line.quantity
    # A product no longer sold (inactive, or without a price) counts as none available.
    unsellable = [pid for pid in product_ids if not products[pid].active or prices.get(pid) is None]
    if unsellable:
        sellable = sorted(pid for pid in product_ids if pid not in unsellable)
        available = await stock.available_at(session, location.id, sellable)
        shortfalls = [stock.Shortfall(pid, wanted[pid], 0) for pid in unsellable] + [
            stock.Shortfall(pid, wanted[pid], available[pid])
            for pid in sellable
            if available[pid] < wanted[pid]
        ]
        raise insufficient(chosen, shortfalls, products, where)

    priced = pricing.price_lines(chosen, prices, currency)
    totals = pricing.order_totals(priced, currency)
    rows: list[dict[str, Any]] = []
    for position, (line, charged) in enumerate(zip(chosen, priced, strict=True)):
        price = charged.unit
        codes = barcodes.get(line.product_id) or [""]
        rows.append(
            {
                "position": position,
                "cart_line_id": line.id,
                "product_id": line.product_id,
                "gtin": codes[0],
                "name": products[line.product_id].name,
                "unit_price": price.current,
                "regular_unit_price": price.regular,
                "campaign_name": price.campaign.name if price.campaign else None,
                "quantity": line.quantity,
                "line_total": charged.total,
                "returned_quantity": 0,
                "added_to_cart_at": line.created_at,
            }
        )
    is_collect = isinstance(fulfilment, ClickAndCollect)
    values: dict[str, Any] = {
        "status": OrderStatus.PLACED,
        "fulfilment": FulfilmentMethod.CLICK_AND_COLLECT
        if is_collect
        else FulfilmentMethod.DELIVERY,
        "channel": channel,
        "store_id": viewer.device.store_id if viewer.device else None,
        "pickup_store_id": fulfilment.store_id if is_collect else None,  # type: ignore[union-attr]
        "location_id": location.id,
        "delivery_address": None if is_collect else fulfilment.address,  # type: ignore[union-attr]
        "customer_id": locked.customer_id,
        "cart_id": cart_id,
        "cart_token_hash": locked.token_hash,
        "device_id": viewer.device.id if viewer.device else None,
        "currency": currency,
        "subtotal": totals.subtotal,
        "total": totals.total,
        "version": 1,
        "pickup_deadline": now + timedelta(days=pickup_days) if is_collect else None,
        "created_at": now,
        "updated_at": now,
    }
    order_id = (
        await session.execute(
            insert(Order)
            .values(**values, idempotency_key=key, request_hash=request_hash)
            .returning(Order.id)
        )
    ).scalar_one()
    line_ids = (
        (
            await session.execute(
                insert(OrderLine).returning(OrderLine.id, sort_by_parameter_order=True),
                [{"order_id": order_id, **row} for row in rows],
            )
        )
        .scalars()
        .all()
    )
    await session.execute(
        insert(StockReservation),
        [
            {
                "order_id": order_id,
                "order_line_id": line_id,
                "location_id": location.id,
                "product_id": row["product_id"],
                "quantity": row["quantity"],
                "status": ReservationStatus.HELD,
                "created_at": now,
            }
            for line_id, row in zip(line_ids, rows, strict=True)
        ],
    )
    actor_kind, actor_id = actor_of(viewer)
    await session.execute(
        insert(OrderStatusChange).values(
            order_id=order_id,
            from_status=None,
            to_status=OrderStatus.PLACED,
            actor_kind=actor_kind,
            actor_id=actor_id,
            at=now,
        )
    )
    cart, changed = await _after(session, cart_id, locked, every, chosen, now)
    await record_product_changes(session, product_ids)
    # The hot rows last: other checkouts of these products wait only from here to commit.
    shortfalls = await stock.reserve(session, location.id, wanted, now)
    if shortfalls:
        raise insufficient(chosen, shortfalls, products, where)
    order = OrderView(id=order_id, **values)
    lines = tuple(
        OrderLineView(
            id=line_id,
            order_id=order_id,
            **{k: row[k] for k in _LINE_SNAPSHOT},
        )
        for line_id, row in zip(line_ids, rows, strict=True)
    )
    return CheckoutResult(order, lines, cart, changed)


async def _after(
    session: AsyncSession,
    cart_id: int,
    locked: _Locked,
    every: Sequence[CartLineSnapshot],
    chosen: Sequence[CartLineSnapshot],
    now: datetime,
) -> tuple[CartView | None, tuple[CartView, ...]]:
    """Close the cart (a customer gets a fresh one), or take the ordered lines out of it."""
    if len(chosen) < len(every):
        await take_lines(session, cart_id, [line.id for line in chosen])
        remaining = await load_view(session, cart_id)
        assert remaining is not None, "the cart is locked"
        return remaining, (remaining,)
    await close_cart(session, cart_id, now)
    closed = CartView(cart_id, locked.version, locked.customer_id, now, ())
    if locked.customer_id is None:
        return None, (closed,)
    fresh = await start_fresh_cart(session, locked.customer_id, now)
    return fresh, (closed, fresh)


async def _lock_cart(
    session: AsyncSession, viewer: Viewer, request: CheckoutRequest, now: datetime
) -> _Locked | None:
    """Bump the cart's version if the caller reaches it at ``expectedVersion``, locking it.

    A customer's row is locked before their cart (the order sign-in and cart creation use
    too), so a checkout never waits on a cart another transaction holds the other way round.
    A kiosk does not know whose cart it holds until it looks.
    """
    conditions = [
        Cart.id == request.cart_id,
        reachable_by(viewer, now),
        Cart.version == request.expected_version,
    ]
    if viewer.device is not None:
        owner = (
            await session.execute(
                select(Cart.customer_id).where(
                    Cart.id == request.cart_id, reachable_by(viewer, now)
                )
            )
        ).one_or_none()
        if owner is None:
            return None
        if owner.customer_id is not None:
            await lock_customer(session, owner.customer_id)
        conditions.append(
            Cart.customer_id.is_(None)
            if owner.customer_id is None
            else (Cart.customer_id == owner.customer_id)
        )
    elif viewer.customer_id is not None:
        await lock_customer(session, viewer.customer_id)
    row = (
        await session.execute(
            update(Cart)
            .where(*conditions)
            .values(version=Cart.version + 1, updated_at=now)
            .returning(Cart.version, Cart.customer_id, Cart.token_hash)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return None if row is None else _Locked(row.version, row.customer_id, row.token_hash)


async def _refusal(
    session: AsyncSession,
    viewer: Viewer,
    request: CheckoutRequest,
    key: str | None,
    request_hash: str,
    now: datetime,
) -> CheckoutResult:
    """Explain why the lock matched nothing: a retry to replay, a stranger, or a stale version."""
    if key is not None:
        earlier = await order_for_key(session, request.cart_id, key)
        if earlier is not None and _may_replay(viewer, earlier):
            await _check_same_request(session, earlier, request_hash)
            return await _replay(session, viewer, earlier, now)
    current = await cart_for_viewer(session, viewer, request.cart_id, now)
    if current is None:
        raise NotFound("There is no such cart.", field="cartId")
    raise VersionConflict(
        f"The cart changed meanwhile; it is at version {current.version} now.",
        field="expectedVersion",
        details=current,
    )


async def _replay(
    session: AsyncSession, viewer: Viewer, order: OrderView, now: datetime
) -> CheckoutResult:
    """Answer a retried checkout with the order it placed and the shopper's cart as it is now."""
    cart = None
    if order.cart_id is not None:
        cart = await cart_for_viewer(session, viewer, order.cart_id, now)
    if cart is None and order.customer_id is not None and viewer.customer_id == order.customer_id:
        cart = await active_cart_of(session, order.customer_id)
    lines = (await lines_by_order(session, [order.id]))[order.id]
    return CheckoutResult(order, tuple(lines), cart, (), replayed=True)


def _may_replay(viewer: Viewer, order: OrderView) -> bool:
    placed_here = viewer.device is not None and viewer.device.id == order.device_id
    return placed_here or shopper_placed(viewer, order)


async def _check_same_request(session: AsyncSession, order: OrderView, request_hash: str) -> None:
    if await request_hash_of(session, order.id) != request_hash:
        raise IdempotencyKeyReused(
            "This idempotency key already placed an order with a different request.",
            field="idempotencyKey",
        )


async def _cart_lines(session: AsyncSession, cart_id: int) -> list[CartLineSnapshot]:
    rows = await session.execute(
        select(CartLine.id, CartLine.product_id, CartLine.quantity, CartLine.created_at)
        .where(CartLine.cart_id == cart_id)
        .order_by(CartLine.id)
    )
    return [CartLineSnapshot(*row) for row in rows]


async def _location(session: AsyncSession, fulfilment: Fulfilment) -> tuple[StockLocation, str]:
    """Return the stock location the order reserves at, and how to name it to people."""
    if isinstance(fulfilment, ClickAndCollect):
        found = (
            await session.execute(
                select(StockLocation, Store.name)
                .join(Store, Store.id == StockLocation.store_id)
                .where(
                    StockLocation.store_id == fulfilment.store_id,
                    StockLocation.online.is_(False),
                )
            )
        ).first()
        if found is None:
            raise NotFound(
                "There is no such store to collect at.", field="fulfilment.clickAndCollect.storeId"
            )
        return found[0], found[1]
    online = await catalog.location_for_store(session, None)
    if online is None:
        raise NotFound("There is no online warehouse to deliver from.", field="fulfilment")
    return online, "the online warehouse"
