"""Stock movements of orders: reserve, release, consume (collect/ship) and restock (returns).

A reservation locks its stock rows in product id order (``SELECT … FOR UPDATE``), checks
them and changes them all with one UPDATE (no oversell); the other movements change
``stock_levels`` with one UPDATE per product, also in product id order, so two transactions
never wait on each other's rows the other way round (no deadlock). Reservation
rows (per order line and location) change in the same transaction, so the ``held`` ones
always add up to ``StockLevel.reserved``. Each movement notes the products in the outbox,
so the search index's "in stock at" filters follow; those that raise availability
(release, restock) fulfil the back-in-stock requests waiting there
(``server.notifications.back_in_stock.check_available``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert
from server.models import StockLevel, StockReservation
from server.notifications.back_in_stock import check_available
from server.outbox import record_product_changes
from server.states import MovementSource, ReservationStatus, StockMovementKind
from server.stock.ledger import note_changes

_ORDER = MovementSource.ORDER


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A product of which fewer units are available at a location than were asked for."""

    product_id: int
    requested: int
    available: int


async def available_at(
    session: AsyncSession, location_id: int, product_ids: Sequence[int]
) -> dict[int, int]:
    """Return on hand minus reserved per product at a location (0 where there is no row)."""
    rows = await session.execute(
        select(StockLevel.product_id, StockLevel.on_hand - StockLevel.reserved).where(
            StockLevel.location_id == location_id, StockLevel.product_id.in_(product_ids)
        )
    )
    found = {pid: max(int(units), 0) for pid, units in rows}
    return {pid: found.get(pid, 0) for pid in product_ids}


async def reserve(
    session: AsyncSession, location_id: int, wanted: Mapping[int, int], now: datetime
) -> list[Shortfall]:
    """Reserve ``wanted`` units per product at a location, all or nothing, in two statements.

    ``SELECT … FOR UPDATE`` locks the stock rows in product id order (no deadlock) and reads
    what each has available; when every product has enough, one ``UPDATE`` adds all of them
    to ``reserved`` (a ``CASE`` per product), so nobody can take the units in between (the
    rows are locked on PostgreSQL; SQLite's write lock is already held). Otherwise nothing is
    written and the answer names every product that cannot be had (a missing row has 0).

    The caller notes the products in the outbox: checkout does so before reserving, so the
    contended stock rows are held for as short a time as possible (until its commit).
    """
    order = sorted(wanted)
    rows = await session.execute(
        select(StockLevel.product_id, StockLevel.on_hand - StockLevel.reserved)
        .where(StockLevel.location_id == location_id, StockLevel.product_id.in_(order))
        .order_by(StockLevel.product_id)
        .with_for_update()
    )
    found = {pid: max(int(units), 0) for pid, units in rows}
    shortfalls = [
        Shortfall(pid, wanted[pid], found.get(pid, 0))
        for pid in order
        if found.get(pid, 0) < wanted[pid]
    ]
    if shortfalls:
        return shortfalls
    added = case({pid: wanted[pid] for pid in order}, value=StockLevel.product_id, else_=0)
    await session.execute(
        update(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.product_id.in_(order))
        .values(reserved=StockLevel.reserved + added, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return []


async def _close_held(
    session: AsyncSession, order_id: int, status: str, now: datetime
) -> dict[tuple[int, int], int]:
    """Mark an order's held reservations ``status``; return units per (location, product)."""
    rows = await session.execute(
        update(StockReservation)
        .where(
            StockReservation.order_id == order_id, StockReservation.status == ReservationStatus.HELD
        )
        .values(status=status, closed_at=now)
        .returning(
            StockReservation.location_id, StockReservation.product_id, StockReservation.quantity
        )
        .execution_options(synchronize_session=False)
    )
    units: dict[tuple[int, int], int] = defaultdict(int)
    for location_id, product_id, quantity in rows:
        units[(location_id, product_id)] += quantity
    return units


async def release(session: AsyncSession, order_id: int, now: datetime) -> int:
    """Give an order's held units back to sale (cancelled, expired); return how many."""
    units = await _close_held(session, order_id, ReservationStatus.RELEASED, now)
    for (location_id, product_id), quantity in sorted(units.items(), key=_by_product):
        await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == location_id, StockLevel.product_id == product_id)
            .values(reserved=StockLevel.reserved - quantity, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    await record_product_changes(session, [pid for _, pid in units])
    by_location: dict[int, list[int]] = defaultdict(list)
    for location_id, product_id in units:
        by_location[location_id].append(product_id)
    for location_id in sorted(by_location):
        await check_available(session, location_id, by_location[location_id], now)
    return sum(units.values())


async def consume(session: AsyncSession, order_id: int, now: datetime) -> int:
    """Turn an order's held units into units gone (collected, shipped); return how many."""
    units = await _close_held(session, order_id, ReservationStatus.CONSUMED, now)
    for (location_id, product_id), quantity in sorted(units.items(), key=_by_product):
        await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == location_id, StockLevel.product_id == product_id)
            .values(
                on_hand=StockLevel.on_hand - quantity,
                reserved=StockLevel.reserved - quantity,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    taken = {key: -quantity for key, quantity in units.items()}
    await note_changes(
        session, taken, kind=StockMovementKind.SALE, source=_ORDER, order_id=order_id, now=now
    )
    await record_product_changes(session, [pid for _, pid in units])
    return sum(units.values())


async def restock(
    session: AsyncSession,
    location_id: int,
    units: Mapping[int, int],
    now: datetime,
    *,
    order_id: int | None = None,
) -> None:
    """Put returned units on hand at a location, creating the stock row where there is none.

    The stock ledger (``server.stock``) gets a RETURN row per product, of ``order_id``.
    """
    for product_id in sorted(units):
        quantity = units[product_id]
        stmt = upsert(session, StockLevel).values(
            location_id=location_id,
            product_id=product_id,
            on_hand=quantity,
            reserved=0,
            updated_at=now,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[StockLevel.location_id, StockLevel.product_id],
                set_={"on_hand": StockLevel.on_hand + quantity, "updated_at": now},
            )
        )
    back = {(location_id, pid): quantity for pid, quantity in units.items()}
    await note_changes(
        session, back, kind=StockMovementKind.RETURN, source=_ORDER, order_id=order_id, now=now
    )
    await record_product_changes(session, units)
    await check_available(session, location_id, list(units), now)


async def held_units(session: AsyncSession, location_id: int, product_id: int) -> int:
    """Return the units of held reservations of a product at a location (for checks)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(
            StockReservation.location_id == location_id,
            StockReservation.product_id == product_id,
            StockReservation.status == ReservationStatus.HELD,
        )
    )
    return int(total or 0)


def _by_product(item: tuple[tuple[int, int], int]) -> tuple[int, int]:
    (location_id, product_id), _ = item
    return product_id, location_id
