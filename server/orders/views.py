"""Reading orders: detached snapshots of orders, their lines and history, and paged lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self, TypeVar

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.models import Order, OrderLine, OrderStatusChange
from server.notifications.writer import OrderFacts
from server.orders.numbers import order_number, parse_order_number
from server.states import FulfilmentMethod, OrderChannel, OrderStatus

MAX_PAGE = 100
T = TypeVar("T")


def _from_mapping(cls: type[T], mapping: Any) -> T:
    return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as it stands, detached from the session (lines and history are read apart)."""

    id: int
    status: OrderStatus
    fulfilment: FulfilmentMethod
    channel: OrderChannel
    store_id: int | None
    pickup_store_id: int | None
    location_id: int
    delivery_address: str | None
    customer_id: int | None
    cart_id: int | None
    cart_token_hash: str | None
    device_id: int | None
    currency: str
    subtotal: int
    total: int
    version: int
    pickup_deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    language: str
    contact_email: str | None
    contact_phone: str | None

    def __post_init__(self) -> None:
        # Rows read back hold the states as plain text.
        object.__setattr__(self, "status", OrderStatus(self.status))
        object.__setattr__(self, "fulfilment", FulfilmentMethod(self.fulfilment))
        object.__setattr__(self, "channel", OrderChannel(self.channel))

    @classmethod
    def from_mapping(cls, mapping: Any) -> Self:
        """Build a view from a row of ``orders`` columns."""
        return _from_mapping(cls, mapping)

    @property
    def number(self) -> str:
        """Return the order number people read and type (``OC-26-000123-4``)."""
        return order_number(self.id, self.created_at)


@dataclass(frozen=True, slots=True)
class OrderLineView:
    """One order line as snapshotted at checkout, with what has come back since."""

    id: int
    order_id: int
    position: int
    product_id: int
    gtin: str
    name: str
    unit_price: int
    regular_unit_price: int
    campaign_name: str | None
    quantity: int
    line_total: int
    returned_quantity: int

    @classmethod
    def from_mapping(cls, mapping: Any) -> Self:
        """Build a view from a row of ``order_lines`` columns."""
        return _from_mapping(cls, mapping)


@dataclass(frozen=True, slots=True)
class OrderedLine:
    """A line that left a still open cart in an order (a kiosk ordering what its shelf lacks)."""

    order_id: int
    order_number: str
    status: OrderStatus
    fulfilment: FulfilmentMethod
    ordered_at: datetime
    gtin: str
    name: str
    quantity: int


async def ordered_from_cart(session: AsyncSession, cart_id: int) -> list[OrderedLine]:
    """Return the lines of the orders placed from a cart, oldest order first.

    Only a part of a cart is ordered while it stays open (the rest of it is still there); a
    checkout of the whole cart closes it.
    """
    rows = await session.execute(
        select(
            Order.id,
            Order.created_at,
            Order.status,
            Order.fulfilment,
            OrderLine.gtin,
            OrderLine.name,
            OrderLine.quantity,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.cart_id == cart_id)
        .order_by(Order.id, OrderLine.position)
    )
    return [
        OrderedLine(
            order_id=order_id,
            order_number=order_number(order_id, created_at),
            status=OrderStatus(status),
            fulfilment=FulfilmentMethod(fulfilment),
            ordered_at=created_at,
            gtin=gtin,
            name=name,
            quantity=quantity,
        )
        for order_id, created_at, status, fulfilment, gtin, name, quantity in rows
    ]


@dataclass(frozen=True, slots=True)
class StatusChangeView:
    """One step of an order's history."""

    id: int
    order_id: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_kind: str
    actor_id: int | None
    note: str | None
    at: datetime

    def __post_init__(self) -> None:
        if self.from_status is not None:
            object.__setattr__(self, "from_status", OrderStatus(self.from_status))
        object.__setattr__(self, "to_status", OrderStatus(self.to_status))

    @classmethod
    def from_mapping(cls, mapping: Any) -> Self:
        """Build a view from a row of ``order_status_changes`` columns."""
        return _from_mapping(cls, mapping)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a newest-first order list; ``has_next`` when older orders follow."""

    orders: tuple[OrderView, ...]
    has_next: bool


_ORDER = [getattr(Order, f.name) for f in fields(OrderView)]


async def load_order(session: AsyncSession, order_id: int) -> OrderView | None:
    """Return an order by id, or None."""
    row = (await session.execute(select(*_ORDER).where(Order.id == order_id))).one_or_none()
    return None if row is None else OrderView.from_mapping(row._mapping)


async def orders_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, OrderView]:
    """Return orders by id in one query."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(*_ORDER).where(Order.id.in_(wanted)))
    return {row.id: OrderView.from_mapping(row._mapping) for row in rows}


async def order_by_number(session: AsyncSession, text: str) -> OrderView | None:
    """Return the order with this number in any typed form; None for unknown or mistyped ones."""
    parsed = parse_order_number(text)
    if parsed is None:
        return None
    order = await load_order(session, parsed.order_id)
    if order is None or order.created_at.year % 100 != parsed.year:
        return None
    return order


async def lines_by_order(
    session: AsyncSession, order_ids: Iterable[int]
) -> dict[int, list[OrderLineView]]:
    """Return each order's lines in checkout order, in one query."""
    return await _per_order(session, order_ids, OrderLine, OrderLineView, OrderLine.position)


async def history_by_order(
    session: AsyncSession, order_ids: Iterable[int]
) -> dict[int, list[StatusChangeView]]:
    """Return each order's status changes, oldest first, in one query."""
    return await _per_order(
        session, order_ids, OrderStatusChange, StatusChangeView, OrderStatusChange.id
    )


async def _per_order(
    session: AsyncSession,
    order_ids: Iterable[int],
    table: type[OrderLine] | type[OrderStatusChange],
    view: type[T],
    then_by: InstrumentedAttribute[int],
) -> dict[int, list[T]]:
    """Return the rows of an order's child table as ``view``s, grouped by order and sorted."""
    wanted = set(order_ids)
    found: dict[int, list[T]] = defaultdict(list)
    if not wanted:
        return found
    columns = [getattr(table, f.name) for f in fields(view)]  # type: ignore[arg-type]
    rows = await session.execute(
        select(*columns).where(table.order_id.in_(wanted)).order_by(table.order_id, then_by)
    )
    for row in rows:
        found[row.order_id].append(_from_mapping(view, row._mapping))
    return found


async def list_orders(
    session: AsyncSession,
    *,
    condition: ColumnElement[bool],
    statuses: Sequence[str] = (),
    fulfilment: str | None = None,
    before_id: int | None = None,
    limit: int = 20,
) -> OrderPage:
    """Return the newest orders matching ``condition`` (and the filters), older than ``before_id``.

    Keyset paging on the id: a page stays stable while new orders arrive.
    """
    stmt = select(*_ORDER).where(condition)
    if statuses:
        stmt = stmt.where(Order.status.in_(statuses))
    if fulfilment is not None:
        stmt = stmt.where(Order.fulfilment == fulfilment)
    if before_id is not None:
        stmt = stmt.where(Order.id < before_id)
    rows = (await session.execute(stmt.order_by(Order.id.desc()).limit(limit + 1))).all()
    orders = tuple(OrderView.from_mapping(row._mapping) for row in rows[:limit])
    return OrderPage(orders, len(rows) > limit)


async def pages_per_customer(
    session: AsyncSession, customer_ids: Iterable[int], *, before_id: int | None, limit: int
) -> dict[int, OrderPage]:
    """Return the newest ``limit`` orders of each customer older than ``before_id``, at once.

    One query: the orders are ranked per customer (a window function, on SQLite and
    PostgreSQL alike) and each customer's first ``limit + 1`` kept, the last telling
    whether a next page follows.
    """
    wanted = set(customer_ids)
    if not wanted:
        return {}
    rank = func.row_number().over(partition_by=Order.customer_id, order_by=Order.id.desc())
    ranked = select(*_ORDER, rank.label("rank")).where(Order.customer_id.in_(wanted))
    if before_id is not None:
        ranked = ranked.where(Order.id < before_id)
    sub = ranked.subquery()
    rows = await session.execute(
        select(sub).where(sub.c.rank <= limit + 1).order_by(sub.c.customer_id, sub.c.rank)
    )
    found: dict[int, list[OrderView]] = {customer_id: [] for customer_id in wanted}
    for row in rows:
        found[row.customer_id].append(OrderView.from_mapping(row._mapping))
    return {
        customer_id: OrderPage(tuple(views[:limit]), len(views) > limit)
        for customer_id, views in found.items()
    }


def placed_by(customer_id: int | None, cart_token_hash: str | None) -> ColumnElement[bool]:
    """Return the condition for the orders a shopper placed: as a customer, or with a cart token.

    A guest order stays reachable with the token of the cart that placed it; once an order
    belongs to a customer, only the customer's session reaches it.
    """
    ways: list[ColumnElement[bool]] = []
    if customer_id is not None:
        ways.append(Order.customer_id == customer_id)
    if cart_token_hash is not None:
        ways.append(and_(Order.customer_id.is_(None), Order.cart_token_hash == cart_token_hash))
    return or_(*ways) if ways else false()


def at_store(store_id: int | None) -> ColumnElement[bool]:
    """Return the condition for a store's orders; every order for None.

    A store's orders are those collected there and those placed there (at its kiosk or by
    its staff), delivery orders included.
    """
    if store_id is None:
        return Order.id.is_not(None)
    return or_(Order.pickup_store_id == store_id, Order.store_id == store_id)


async def order_for_key(session: AsyncSession, cart_id: int, key: str) -> OrderView | None:
    """Return the order a cart's checkout placed under an idempotency key, if any."""
    row = (
        await session.execute(
            select(*_ORDER).where(Order.cart_id == cart_id, Order.idempotency_key == key)
        )
    ).one_or_none()
    return None if row is None else OrderView.from_mapping(row._mapping)


async def request_hash_of(session: AsyncSession, order_id: int) -> str | None:
    """Return the fingerprint of the checkout request that placed an order."""
    return await session.scalar(select(Order.request_hash).where(Order.id == order_id))


def order_facts(order: OrderView, **extra: object) -> OrderFacts:
    """Return what the messages about an order need to know of it."""
    return OrderFacts(
        id=order.id,
        number=order.number,
        customer_id=order.customer_id,
        cart_token_hash=order.cart_token_hash,
        contact_email=order.contact_email,
        contact_phone=order.contact_phone,
        language=order.language,
        pickup_store_id=order.pickup_store_id,
        location_id=order.location_id,
        total=order.total,
        currency=order.currency,
        pickup_deadline=order.pickup_deadline,
        extra=dict(extra),
    )
