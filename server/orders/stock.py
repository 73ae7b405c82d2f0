"""Stock movements of orders: reserve, release, consume (collect/ship) and restock (returns).

A reservation is one conditional UPDATE (no oversell) that, on PostgreSQL, first locks its
stock rows in product id order (``SELECT … FOR UPDATE`` in a CTE of the same statement); the
other movements change ``stock_levels`` with one UPDATE per product, also in product id
order, so two transactions never wait on each other's rows the other way round (no
deadlock). Reservation rows (per order line and location) change in the same
transaction, so the ``held`` ones always add up to ``StockLevel.reserved``. Each movement
notes the products in the outbox as a stock-only change, so the search index's "in stock
at" filters follow while their pages stay usable;
those that raise availability (release, restock) fulfil the back-in-stock requests
waiting there (``server.notifications.back_in_stock.check_available``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert
from server.models import StockLevel, StockReservation
from server.models.base import UtcDateTime
from server.notifications.back_in_stock import check_available
from server.orders.reservation_queue import reservation_turn
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


# The units wanted per product, looked up by the row's product in the JSON object bound as
# ``:wanted`` (product id as text: units).
_UNITS = "json_extract(:wanted, '$.\"' || product_id || '\"')"
# SQLite (the write lock is held already): one UPDATE of the rows that have enough.
_RESERVE_SQLITE = text(
    f"UPDATE stock_levels SET reserved = reserved + {_UNITS}, updated_at = :now"
    " WHERE location_id = :location"
    " AND product_id IN (SELECT CAST(key AS INTEGER) FROM json_each(:wanted))"
    f" AND on_hand - reserved >= {_UNITS} RETURNING product_id"
).bindparams(bindparam("now", type_=UtcDateTime()))
# PostgreSQL: lock the rows in product order, reserve only if every one has enough, and
# answer every locked row's availability and whether the UPDATE ran.
_RESERVE_POSTGRES = text(
    "WITH wanted AS (SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:units AS integer[]))"
    " AS w (product_id, units)),"
    " locked AS MATERIALIZED ("
    " SELECT s.product_id, s.on_hand - s.reserved AS free, w.units FROM stock_levels s"
    " JOIN wanted w ON w.product_id = s.product_id WHERE s.location_id = :location"
    " ORDER BY s.product_id FOR UPDATE OF s),"
    " enough AS (SELECT count(*) = :n AS ok FROM locked WHERE free >= units),"
    " changed AS ("
    " UPDATE stock_levels s SET reserved = s.reserved + locked.units, updated_at = :now"
    " FROM locked, enough WHERE enough.ok AND s.location_id = :location"
    " AND s.product_id = locked.product_id RETURNING s.product_id)"
    " SELECT locked.product_id, locked.free, (SELECT count(*) FROM changed) AS done FROM locked"
).bindparams(bindparam("now", type_=UtcDateTime()))


async def reserve(
    session: AsyncSession, location_id: int, wanted: Mapping[int, int], now: datetime
) -> list[Shortfall]:
    """Reserve ``wanted`` units per product at a location, all or nothing, in one statement.

    One conditional UPDATE adds each product's units to ``reserved`` where that many are
    available (one statement built once, the units bound as JSON or arrays). On PostgreSQL
    a ``SELECT … FOR UPDATE`` in a materialized CTE of the same statement first locks the
    rows in product id order (no deadlock between two checkouts), the UPDATE runs only when
    every product has enough, and the statement answers every row's availability, so a
    refusal costs no second statement while the rows are locked. On SQLite (whose write
    lock is already held) a product that falls short is read afterwards and the caller must
    roll back: the UPDATE reserved the others. A product without a row has 0 available.

    The caller notes the products in the outbox before reserving, so the contended stock
    rows are held for as short a time as possible (until its commit).
    """
    order = sorted(wanted)
    if session.get_bind().dialect.name == "postgresql":
        free = await _reserve_locked(session, location_id, wanted, now)
        if free is None:
            return []
        return [
            Shortfall(pid, wanted[pid], max(free.get(pid, 0), 0))
            for pid in order
            if free.get(pid, 0) < wanted[pid]
        ]
    units = json.dumps({str(pid): wanted[pid] for pid in order})
    params = {"wanted": units, "location": location_id, "now": now}
    changed = set((await session.execute(_RESERVE_SQLITE, params)).scalars())
    if len(changed) == len(order):
        return []
    available = await available_at(session, location_id, [p for p in order if p not in changed])
    return [Shortfall(pid, wanted[pid], units) for pid, units in available.items()]


async def _reserve_locked(
    session: AsyncSession, location_id: int, wanted: Mapping[int, int], now: datetime
) -> dict[int, int] | None:
    """PostgreSQL: lock the rows in product order, reserve if all suffice; None when done.

    Otherwise nothing changed, and the answer is each locked row's available units.
    """
    order = sorted(wanted)
    params = {
        "ids": order,
        "units": [wanted[pid] for pid in order],
        "n": len(order),
        "location": location_id,
        "now": now,
    }
    # This worker's reservations at the location take turns (``reservation_queue``).
    async with reservation_turn(location_id):
        rows = (await session.execute(_RESERVE_POSTGRES, params)).all()
    if rows and rows[0].done == len(order):
        return None
    return {int(row.product_id): int(row.free) for row in rows}


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
    await record_product_changes(session, [pid for _, pid in units], stock_only=True)
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
    await record_product_changes(session, [pid for _, pid in units], stock_only=True)
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
    await record_product_changes(session, units, stock_only=True)
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
