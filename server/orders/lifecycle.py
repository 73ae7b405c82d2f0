"""The order lifecycle: staff moves orders on, stock follows, and overdue pickups expire.

::

    click and collect   placed ─► ready_for_pickup ─► collected ─► returned
                          │              │
                          └──────┬───────┘
                                 ├─► cancelled   (staff; reservation released)
                                 └─► expired     (omnicart expire-orders; released)
    delivery            placed ─► shipped ─► delivered ─► returned
                          └─► cancelled          (admin; reservation released)

Collecting and shipping turn the reservation into a stock decrement (on hand and reserved
both go down); a return puts units on hand at the store that takes it back. Each step is
one conditional ``UPDATE orders … WHERE status IN (<allowed>)``, so of two staff pressing
a button at once one wins and the other gets ``INVALID_TRANSITION``; every other step is
refused with ``INVALID_TRANSITION`` too. Each step bumps the order's version, writes a
history row, (for staff) an audit row, and the shopper's notifications (ready for pickup,
shipped, return received; ``server.notifications``), in the same transaction.

Club points follow in the same transaction (``server.club.points``): collecting or
delivering spends the points held at checkout and earns on the money paid; cancelling and
expiry release the hold; a return takes back what the returned goods earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.club import points
from server.errors import (
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from server.models import Order, OrderLine, OrderStatusChange, StockReservation
from server.notifications.writer import notify_order
from server.orders import stock
from server.orders.access import staff_may_see
from server.orders.views import OrderView, lines_by_order, load_order, order_facts
from server.staff import StaffActor, record_action
from server.states import FulfilmentMethod, OrderStatus, ReservationStatus

Action = Literal["mark_ready", "mark_collected", "cancel", "mark_shipped", "mark_delivered"]
Effect = Literal["none", "release", "consume"]


@dataclass(frozen=True, slots=True)
class Rule:
    """Which statuses an action starts from, where it leads, and what happens to stock."""

    sources: tuple[OrderStatus, ...]
    target: OrderStatus
    effect: Effect
    verb: str


_COLLECT = FulfilmentMethod.CLICK_AND_COLLECT
_DELIVERY = FulfilmentMethod.DELIVERY
_PLACED = OrderStatus.PLACED
_READY = OrderStatus.READY_FOR_PICKUP
RULES: dict[tuple[FulfilmentMethod, str], Rule] = {
    (_COLLECT, "mark_ready"): Rule((_PLACED,), _READY, "none", "marked ready"),
    (_COLLECT, "mark_collected"): Rule(
        (_READY,), OrderStatus.COLLECTED, "consume", "marked collected"
    ),
    (_COLLECT, "cancel"): Rule((_PLACED, _READY), OrderStatus.CANCELLED, "release", "cancelled"),
    (_COLLECT, "expire"): Rule((_PLACED, _READY), OrderStatus.EXPIRED, "release", "expired"),
    (_DELIVERY, "mark_shipped"): Rule((_PLACED,), OrderStatus.SHIPPED, "consume", "marked shipped"),
    (_DELIVERY, "mark_delivered"): Rule(
        (OrderStatus.SHIPPED,), OrderStatus.DELIVERED, "none", "marked delivered"
    ),
    (_DELIVERY, "cancel"): Rule((_PLACED,), OrderStatus.CANCELLED, "release", "cancelled"),
}
RETURNABLE = (OrderStatus.COLLECTED, OrderStatus.DELIVERED)
# The steps the shopper is told about, and the message each sends.
_MESSAGES = {_READY: "order_ready", OrderStatus.SHIPPED: "order_shipped"}
# Moving an online order through the warehouse is not a store's work.
_ADMIN_ONLY = {"mark_shipped", "mark_delivered"}


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """Units of one order line brought back."""

    line_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Expired:
    """An order ``expire_overdue`` expired, and how many units it gave back to sale."""

    order: OrderView
    units_released: int


async def transition(
    session: AsyncSession,
    actor: StaffActor,
    order_id: int,
    action: Action,
    *,
    now: datetime,
    pickup_days: int,
    points_per_10_kr: int,
    note: str | None = None,
) -> OrderView:
    """Move an order on as a staff member asked (rules in the module docstring)."""
    order = await _visible(session, actor, order_id)
    if not actor.is_admin:
        if action in _ADMIN_ONLY or order.fulfilment != FulfilmentMethod.CLICK_AND_COLLECT:
            raise PermissionDenied("Only admins move online orders through the warehouse.")
        if not actor.works_at(order.pickup_store_id):
            raise PermissionDenied("Only staff of the pickup store can change this order.")
    changed = await _apply(
        session,
        order,
        action,
        actor.kind,
        actor.actor_id,
        now=now,
        pickup_days=pickup_days,
        note=note,
        points_per_10_kr=points_per_10_kr,
    )
    kind = _MESSAGES.get(changed.status)
    if kind is not None:
        await notify_order(session, order_facts(changed), kind, now)
    await record_action(
        session,
        actor,
        f"order.{action}",
        subject_type="order",
        subject_id=order.id,
        store_id=order.pickup_store_id or actor.store_id,
        now=now,
        details={"number": order.number, "from": order.status, "to": changed.status}
        | ({"note": note} if note else {}),
    )
    return changed


async def take_return(
    session: AsyncSession,
    actor: StaffActor,
    order_id: int,
    *,
    store_id: int | None,
    lines: Sequence[ReturnLine] | None,
    now: datetime,
    points_per_10_kr: int,
) -> OrderView:
    """Take goods of a collected or delivered order back in a store: they go on hand there.

    ``lines`` names what came back (every unreturned unit when None). Store staff take
    returns into their own store; an admin names the store. The order becomes
    ``returned`` once every unit is back.
    """
    order = await _visible(session, actor, order_id)
    into, location_id = await _return_location(session, actor, store_id)
    status = await _move(
        session,
        order,
        RETURNABLE,
        {"version": Order.version + 1, "updated_at": now},
        refusal="only collected or delivered orders come back.",
    )
    units = await _take_back(session, order.id, lines)
    await stock.restock(session, location_id, units, now, order_id=order.id)
    await points.order_returned(session, order.id, now=now, points_per_10_kr=points_per_10_kr)
    target = await _returned_when_all_back(session, order.id, status)
    returned = sum(units.values())
    await _history(
        session,
        order.id,
        status,
        target,
        actor.kind,
        actor.actor_id,
        f"{returned} unit(s) returned into store {into}",
        now,
    )
    await record_action(
        session,
        actor,
        "order.return",
        subject_type="order",
        subject_id=order.id,
        store_id=into,
        now=now,
        details={"number": order.number, "units": {str(k): v for k, v in units.items()}},
    )
    changed = await load_order(session, order.id)
    assert changed is not None
    await notify_order(
        session,
        order_facts(changed, units=returned),
        "order_returned",
        now,
        event=str(changed.version),
    )
    return changed


async def _return_location(
    session: AsyncSession, actor: StaffActor, store_id: int | None
) -> tuple[int, int]:
    """Return the store taking a return (the actor's unless named) and its stock location."""
    into = store_id if store_id is not None else actor.store_id
    if into is None:
        raise InvalidInput("Name the store that takes the return.", field="storeId")
    if not actor.works_at(into):
        raise PermissionDenied("Returns are taken into your own store.")
    location = await catalog.location_for_store(session, into)
    if location is None:
        raise NotFound("There is no such store.", field="storeId")
    return into, location.id


async def _returned_when_all_back(
    session: AsyncSession, order_id: int, status: OrderStatus
) -> OrderStatus:
    """Move the order to ``returned`` once no line has units out; return its status."""
    left = await session.scalar(
        select(OrderLine.id)
        .where(OrderLine.order_id == order_id, OrderLine.returned_quantity < OrderLine.quantity)
        .limit(1)
    )
    if left is not None:
        return status
    await session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(status=OrderStatus.RETURNED)
        .execution_options(synchronize_session=False)
    )
    return OrderStatus.RETURNED


async def expire_overdue(session: AsyncSession, *, now: datetime) -> list[Expired]:
    """Expire every click-and-collect order past its pickup deadline, releasing its stock.

    Running it again finds nothing more to do: expired orders are no longer waiting.
    """
    ids = (
        (
            await session.execute(
                select(Order.id)
                .where(
                    Order.fulfilment == FulfilmentMethod.CLICK_AND_COLLECT,
                    Order.status.in_(RULES[(FulfilmentMethod.CLICK_AND_COLLECT, "expire")].sources),
                    Order.pickup_deadline <= now,
                )
                .order_by(Order.id)
            )
        )
        .scalars()
        .all()
    )
    expired: list[Expired] = []
    for order_id in ids:
        order = await load_order(session, order_id)
        if order is None:
            continue
        try:
            async with session.begin_nested():
                released = await _held_units(session, order.id)
                changed = await _apply(
                    session, order, "expire", "system", None, now=now, pickup_days=0, note=None
                )
        except InvalidTransition:  # collected or cancelled meanwhile
            continue
        expired.append(Expired(changed, released))
    return expired


async def _apply(
    session: AsyncSession,
    order: OrderView,
    action: str,
    actor_kind: str,
    actor_id: int | None,
    *,
    now: datetime,
    pickup_days: int,
    note: str | None,
    points_per_10_kr: int = 0,
) -> OrderView:
    rule = RULES.get((order.fulfilment, action))
    if rule is None:
        raise InvalidTransition(
            f"A {_words(order.fulfilment)} order cannot be {_words(action)}.", details=order
        )
    values: dict[str, object] = {
        "status": rule.target,
        "version": Order.version + 1,
        "updated_at": now,
    }
    if rule.target == OrderStatus.READY_FOR_PICKUP:
        # The shopper gets the full pickup time from the moment the order is ready.
        values["pickup_deadline"] = now + timedelta(days=pickup_days)
    await _move(session, order, rule.sources, values, refusal=f"it cannot be {rule.verb} now.")
    if rule.effect == "release":
        await stock.release(session, order.id, now)
        await points.release_order(session, order.id, now=now)
    elif rule.effect == "consume":
        await stock.consume(session, order.id, now)
    if rule.target in (OrderStatus.COLLECTED, OrderStatus.DELIVERED):
        await points.order_completed(session, order.id, now=now, points_per_10_kr=points_per_10_kr)
    await _history(session, order.id, order.status, rule.target, actor_kind, actor_id, note, now)
    changed = await load_order(session, order.id)
    assert changed is not None
    return changed


async def _move(
    session: AsyncSession,
    order: OrderView,
    sources: Sequence[OrderStatus],
    values: dict[str, object],
    *,
    refusal: str,
) -> OrderStatus:
    """Update the order with ``values`` if its status is one of ``sources``; return that status.

    The conditional UPDATE locks the row, so of two staff acting at once one moves the order
    and the other is refused with the order as it now is.
    """
    moved = (
        await session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status.in_(sources))
            .values(**values)
            .returning(Order.status)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if moved is None:
        current = await load_order(session, order.id)
        status = current.status if current else order.status
        raise InvalidTransition(f"The order is {_words(status)}; {refusal}", details=current)
    return OrderStatus(moved.status)


async def _visible(session: AsyncSession, actor: StaffActor, order_id: int) -> OrderView:
    order = await load_order(session, order_id)
    if order is None or not staff_may_see(actor, order):
        raise NotFound("There is no such order.", field="orderId")
    return order


async def _take_back(
    session: AsyncSession, order_id: int, lines: Sequence[ReturnLine] | None
) -> dict[int, int]:
    """Count returned units on the order lines; return units per product."""
    current = (await lines_by_order(session, [order_id]))[order_id]
    by_id = {line.id: line for line in current}
    if lines is None:
        asked = [
            ReturnLine(line.id, line.quantity - line.returned_quantity)
            for line in current
            if line.quantity > line.returned_quantity
        ]
    else:
        asked = list(lines)
        if not asked:
            raise InvalidInput("Name at least one line, or leave lines out.", field="lines")
    units: dict[int, int] = {}
    seen: set[int] = set()
    for i, item in enumerate(asked):
        line = by_id.get(item.line_id)
        if line is None or item.line_id in seen:
            raise NotFound("The order has no such line.", field=f"lines[{i}].lineId")
        seen.add(item.line_id)
        left = line.quantity - line.returned_quantity
        if not 1 <= item.quantity <= left:
            raise InvalidQuantity(
                f"Between 1 and {left} unit(s) of this line can come back.",
                field=f"lines[{i}].quantity",
            )
        await session.execute(
            update(OrderLine)
            .where(OrderLine.id == line.id)
            .values(returned_quantity=OrderLine.returned_quantity + item.quantity)
            .execution_options(synchronize_session=False)
        )
        units[line.product_id] = units.get(line.product_id, 0) + item.quantity
    return units


async def _held_units(session: AsyncSession, order_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(
            StockReservation.order_id == order_id, StockReservation.status == ReservationStatus.HELD
        )
    )
    return int(total or 0)


async def _history(
    session: AsyncSession,
    order_id: int,
    from_status: str | None,
    to_status: str,
    actor_kind: str,
    actor_id: int | None,
    note: str | None,
    now: datetime,
) -> None:
    await session.execute(
        insert(OrderStatusChange).values(
            order_id=order_id,
            from_status=from_status,
            to_status=to_status,
            actor_kind=actor_kind,
            actor_id=actor_id,
            note=note,
            at=now,
        )
    )


def _words(code: str) -> str:
    return code.replace("_", " ").replace("mark ", "marked ")
