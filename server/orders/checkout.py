"""Checkout: a cart at the version the shopper saw becomes an order holding its stock.

See ``server.orders`` for the rules; this module is the one transaction that applies them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import pricing
from server.carts import CartView, LineView, active_cart_of, cart_for_viewer
from server.carts.closing import close_cart, start_fresh_cart, take_lines
from server.carts.service import lock_customer
from server.carts.versioning import Guard, Locked, bump_statement, run_bump, run_versioned
from server.carts.views import reach_shape, reachable_by
from server.club import points
from server.club.membership import decode_shopper, shopper_returning
from server.db import per_dialect
from server.errors import IdempotencyKeyReused, NotFound
from server.models import (
    Cart,
)
from server.orders import stock
from server.orders.access import shopper_placed
from server.orders.plan import (
    Goods,
    decode_plan,
    goods_from_catalog,
    plan_returning,
    plan_values,
)
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
from server.orders.writing import PlacedRows, write_order
from server.states import (
    CartStatus,
    FulfilmentMethod,
    OrderChannel,
    OrderStatus,
)
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
class CheckoutPlan:
    """What a checkout orders, read while the cart is locked: lines, place, products, prices."""

    every: list[CartLineSnapshot]
    chosen: list[CartLineSnapshot]
    location_id: int
    # How people call the location ("Bergen sentrum", "the online warehouse").
    where: str
    product_ids: list[int]
    goods: dict[int, Goods]
    # Units wanted per product, over all chosen lines.
    wanted: dict[int, int]
    # The order line rows, in checkout order (without order_id).
    rows: list[dict[str, Any]]
    totals: pricing.OrderTotals


@dataclass(frozen=True, slots=True)
class _CheckoutWrite:
    """A checkout as ``run_versioned`` takes it; the order keeps the idempotency key."""

    guard: Guard
    request: CheckoutRequest
    fulfilment: Fulfilment
    channel: OrderChannel
    currency: str
    pickup_days: int

    async def lock(self, session: AsyncSession) -> Locked | None:
        """Lock the customer (if any), then bump the cart's version, reading plan and shopper.

        Ordering the whole cart closes it in the same statement (a refusal rolls it back).
        """
        return await _lock_cart(session, self)

    async def kept(self, session: AsyncSession) -> CheckoutResult | None:
        """Return the order this cart's checkout already placed under the key, replayed."""
        return await self._earlier(session, check_access=False)

    async def retried(
        self, session: AsyncSession, current: CartView | None
    ) -> CheckoutResult | None:
        """Replay a retry (the cart may have closed) to whoever placed the order."""
        return await self._earlier(session, check_access=True)

    async def apply(self, session: AsyncSession, locked: Locked) -> CheckoutResult:
        """Place the order on the locked cart."""
        return await _place(session, self, locked)

    async def _earlier(self, session: AsyncSession, *, check_access: bool) -> CheckoutResult | None:
        g = self.guard
        assert g.key is not None, "only a write with a key replays"
        earlier = await order_for_key(session, g.cart_id, g.key)
        if earlier is None or (check_access and not _may_replay(g.viewer, earlier)):
            return None
        if await request_hash_of(session, earlier.id) != g.request_hash:
            raise IdempotencyKeyReused(
                "This idempotency key already placed an order with a different request.",
                field="idempotencyKey",
            )
        return await _replay(session, g.viewer, earlier, g.now)


async def checkout(
    session: AsyncSession,
    viewer: Viewer,
    request: CheckoutRequest,
    *,
    now: datetime,
    currency: str,
    pickup_days: int,
    savepoint: bool = True,
) -> CheckoutResult:
    """Turn the cart (or the chosen lines) into an order, reserving its stock all or nothing.

    Raises NotFound (cart, lines, store), VersionConflict (with the current cart),
    InsufficientStock (``details``: the UnavailableLine list), InvalidInput and
    IdempotencyKeyReused; any of them leaves everything as it was. ``savepoint=False``
    leaves that to a caller who undoes a refusal itself (the GraphQL layer rolls back, or
    runs the mutation in a savepoint of its own); a key still gets its savepoint.
    """
    g = Guard.of(
        viewer,
        request.cart_id,
        now,
        operation="checkout",
        request=canonical(request),
        expected_version=request.expected_version,
        key=request.idempotency_key,
    )
    write = _CheckoutWrite(
        guard=g,
        request=request,
        fulfilment=checked_fulfilment(request.fulfilment),
        channel=channel_of(viewer, request.channel),
        currency=currency,
        pickup_days=pickup_days,
    )
    check_line_ids(request.line_ids)
    return await run_versioned(session, write, savepoint=savepoint)


async def _place(session: AsyncSession, write: _CheckoutWrite, locked: Locked) -> CheckoutResult:
    """Write the order, its lines, reservations and first status; take the stock last."""
    g = write.guard
    shopper = decode_shopper(locked.extra[2])
    plan = await _plan(session, write, locked, member=shopper.member)
    # The customer's language preference wins over the request's Accept-Language.
    values = _order_values(write, plan, locked, shopper.language or write.request.language)
    row = {**values, "idempotency_key": g.key, "request_hash": g.request_hash}
    # With the order, its outbox rows: the products' stock (search follows it; their pages
    # stay usable) and the order, whose basket counts and "placed" messages are written
    # after commit by ``server.orders.placed.follow_placed_orders``, not in this request.
    placed = PlacedRows(
        row, actor_of(g.viewer), plan.rows, plan.location_id, g.now, plan.product_ids
    )
    order_id, line_ids = await write_order(session, placed)
    cart, changed = await _after(session, write, locked, plan, g.now)
    await points.hold_for_order(
        session,
        locked.customer_id,
        write.request.use_points,
        order_id=order_id,
        order_total=plan.totals.total,
        now=g.now,
    )
    # Last the hottest rows, stock: other checkouts of these products wait only until commit.
    shortfalls = await stock.reserve(session, plan.location_id, plan.wanted, g.now)
    if shortfalls:
        raise insufficient(plan.chosen, shortfalls, plan.goods, plan.where)
    order = OrderView(id=order_id, **values)
    lines = tuple(
        OrderLineView(id=line_id, order_id=order_id, **{k: row[k] for k in _LINE_SNAPSHOT})
        for line_id, row in zip(line_ids, plan.rows, strict=True)
    )
    return CheckoutResult(order, lines, cart, changed)


async def _plan(
    session: AsyncSession, write: _CheckoutWrite, locked: Locked, *, member: bool
) -> CheckoutPlan:
    """Decode what the bump read; a product no longer sold makes it InsufficientStock.

    Products without a current read-model page are read from the catalog (see
    ``server.orders.plan``). A club member's cart is priced at member prices.
    """
    now = write.guard.now
    read, unknown = decode_plan(locked.extra, now=now, currency=write.currency, member=member)
    every = read.lines
    chosen = choose_lines(every, write.request.line_ids)
    location_id, where = _location(read.location, write.fulfilment)
    product_ids = sorted({line.product_id for line in chosen})
    goods = read.goods | await goods_from_catalog(
        session,
        [pid for pid in unknown if pid in product_ids],
        write.currency,
        now=now,
        member=member,
    )
    wanted: dict[int, int] = defaultdict(int)
    for line in chosen:
        wanted[line.product_id] += line.quantity
    # A product no longer sold (inactive, or without a price) counts as none available.
    unsellable = [pid for pid in product_ids if not goods[pid].active or goods[pid].price is None]
    if unsellable:
        sellable = sorted(pid for pid in product_ids if pid not in unsellable)
        available = await stock.available_at(session, location_id, sellable)
        shortfalls = [stock.Shortfall(pid, wanted[pid], 0) for pid in unsellable] + [
            stock.Shortfall(pid, wanted[pid], available[pid])
            for pid in sellable
            if available[pid] < wanted[pid]
        ]
        raise insufficient(chosen, shortfalls, goods, where)
    prices = {pid: goods[pid].price for pid in product_ids}
    priced = pricing.price_lines(chosen, prices, write.currency)
    rows = _line_rows(chosen, goods, priced)
    totals = pricing.order_totals(priced, write.currency)
    return CheckoutPlan(every, chosen, location_id, where, product_ids, goods, wanted, rows, totals)


def _line_rows(
    chosen: Sequence[CartLineSnapshot],
    goods: dict[int, Goods],
    priced: Sequence[pricing.PricedLine],
) -> list[dict[str, Any]]:
    """Snapshot each chosen line: product, barcode, name, the price in force, quantity."""
    rows: list[dict[str, Any]] = []
    for position, (line, charged) in enumerate(zip(chosen, priced, strict=True)):
        price = charged.unit
        rows.append(
            {
                "position": position,
                "cart_line_id": line.id,
                "product_id": line.product_id,
                "gtin": goods[line.product_id].gtin,
                "name": goods[line.product_id].name,
                "unit_price": price.current,
                "regular_unit_price": price.regular,
                "campaign_name": price.campaign.name if price.campaign else None,
                "quantity": line.quantity,
                "line_total": charged.total,
                "returned_quantity": 0,
                "added_to_cart_at": line.created_at,
            }
        )
    return rows


def _order_values(
    write: _CheckoutWrite, plan: CheckoutPlan, locked: Locked, language: str
) -> dict[str, Any]:
    """Return the order row's columns (the idempotency key and fingerprint aside)."""
    now, viewer, fulfilment = write.guard.now, write.guard.viewer, write.fulfilment
    is_collect = isinstance(fulfilment, ClickAndCollect)
    return {
        "status": OrderStatus.PLACED,
        "fulfilment": FulfilmentMethod.CLICK_AND_COLLECT
        if is_collect
        else FulfilmentMethod.DELIVERY,
        "channel": write.channel,
        "store_id": viewer.device.store_id if viewer.device else None,
        "pickup_store_id": fulfilment.store_id if is_collect else None,  # type: ignore[union-attr]
        "location_id": plan.location_id,
        "delivery_address": None if is_collect else fulfilment.address,  # type: ignore[union-attr]
        "customer_id": locked.customer_id,
        "cart_id": write.guard.cart_id,
        "cart_token_hash": locked.token_hash,
        "device_id": viewer.device.id if viewer.device else None,
        "currency": write.currency,
        "subtotal": plan.totals.subtotal,
        "total": plan.totals.total,
        "version": 1,
        "pickup_deadline": now + timedelta(days=write.pickup_days) if is_collect else None,
        "created_at": now,
        "updated_at": now,
        "language": language,
        "contact_email": write.request.contact.email,
        "contact_phone": write.request.contact.phone,
    }


async def _after(
    session: AsyncSession,
    write: _CheckoutWrite,
    locked: Locked,
    plan: CheckoutPlan,
    now: datetime,
) -> tuple[CartView | None, tuple[CartView, ...]]:
    """Close the cart (a customer gets a fresh one), or take the ordered lines out of it.

    Ordering the whole cart closed it with the version bump already. Its handoff codes,
    device claims and retry keys need no statement: a closed cart is reachable by nobody,
    so none of them leads anywhere (they expire by themselves).
    """
    cart_id, chosen, every = write.guard.cart_id, plan.chosen, plan.every
    if len(chosen) < len(every):
        await take_lines(session, cart_id, [line.id for line in chosen])
        taken = {line.id for line in chosen}
        lines = tuple(
            LineView(line.id, line.product_id, line.quantity)
            for line in every
            if line.id not in taken
        )
        remaining = CartView(cart_id, locked.version, locked.customer_id, now, lines)
        return remaining, (remaining,)
    if write.request.line_ids is not None:
        await close_cart(session, cart_id, now)
    closed = CartView(cart_id, locked.version, locked.customer_id, now, ())
    if locked.customer_id is None:
        return None, (closed,)
    fresh = await start_fresh_cart(session, locked.customer_id, now)
    return fresh, (closed, fresh)


async def _lock_cart(session: AsyncSession, write: _CheckoutWrite) -> Locked | None:
    """Bump the cart's version if the caller reaches it at ``expectedVersion``, locking it.

    A customer's row is locked before their cart (the order sign-in and cart creation use
    too), so a checkout never waits on a cart another transaction holds the other way round.
    A kiosk does not know whose cart it holds until it looks.
    """
    g = write.guard
    viewer = g.viewer
    binds = plan_values(write.fulfilment)
    owner: bool | None = None
    if viewer.device is None:
        if viewer.customer_id is not None:
            await lock_customer(session, viewer.customer_id)
    else:
        found = (
            await session.execute(
                select(Cart.customer_id).where(Cart.id == g.cart_id, reachable_by(viewer, g.now))
            )
        ).one_or_none()
        if found is None:
            return None
        owner = found.customer_id is not None
        if found.customer_id is not None:
            await lock_customer(session, found.customer_id)
            binds["bump_owner"] = found.customer_id
    stmt = _bump(
        session,
        reach_shape(viewer),
        g.expected_version is not None,
        write.request.line_ids is None,
        isinstance(write.fulfilment, ClickAndCollect),
        owner,
    )
    return await run_bump(session, g, stmt, binds)


@per_dialect
def _bump(
    session: AsyncSession,
    shape: tuple[bool, bool, bool],
    expected: bool,
    closes: bool,
    collect: bool,
    owner: bool | None,
) -> Update:
    """Return a checkout's version bump, built once per dialect and shape of checkout.

    ``closes``: the whole cart is ordered, so the bump closes it. ``owner``: a kiosk's
    bump holds the cart to the owner it looked up (None: not a kiosk; False: a guest's
    cart; True: the customer bound as ``bump_owner``).
    """
    conditions: list[ColumnElement[bool]] = []
    if owner is not None:
        conditions.append(
            Cart.customer_id == bindparam("bump_owner") if owner else Cart.customer_id.is_(None)
        )
    returning = [*plan_returning(session, collect), shopper_returning(session)]
    values = {"status": CartStatus.CLOSED} if closes else {}
    return bump_statement(shape, expected, *conditions, values=values, returning=returning)


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


def _location(found: tuple[int, str | None] | None, fulfilment: Fulfilment) -> tuple[int, str]:
    """Return the stock location the order reserves at, and how to name it to people."""
    if isinstance(fulfilment, ClickAndCollect):
        if found is None:
            raise NotFound(
                "There is no such store to collect at.", field="fulfilment.clickAndCollect.storeId"
            )
        return found[0], found[1] or ""
    if found is None:
        raise NotFound("There is no online warehouse to deliver from.", field="fulfilment")
    return found[0], "the online warehouse"
