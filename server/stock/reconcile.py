"""The stock check: on hand, reserved and the history of every location must agree.

Two truths are compared per product and location:

- ``reserved`` must equal the units of the held reservations (``stock_reservations``);
- on hand must equal the sum of the ledger's ``applied`` changes, where the location has
  history (a location without history has nothing to disagree with).

``repair`` makes them agree: reserved becomes the held units (the reservations name their
orders), on hand becomes what the history says (every unit in it is explained), but never
less than reserved; where that floor moves on hand off the history, an ADJUSTMENT row
(source CHECK) records why. Each repair is an audit row (action ``stock.repair``) with the
figures before and after, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import (
    StaffAuditEntry,
    StockLevel,
    StockLocation,
    StockMovement,
    StockReservation,
)
from server.outbox import record_product_changes
from server.states import MovementSource, ReservationStatus, StockMovementKind
from server.stock.ledger import Key, Level, opening_row


@dataclass(frozen=True, slots=True)
class Drift:
    """A stock row whose figures disagree with its reservations or its history."""

    location_id: int
    location_code: str
    product_id: int
    on_hand: int
    reserved: int
    held: int
    history: int | None

    @property
    def expected_on_hand(self) -> int:
        """Return the on hand the history explains (never below the held units)."""
        return max(self.on_hand if self.history is None else self.history, self.held, 0)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What the check looked at and what disagreed."""

    levels: int
    with_history: int
    drifts: list[Drift]


async def check_stock(session: AsyncSession) -> CheckReport:
    """Compare every stock row with its held reservations and its ledger."""
    held = {
        (loc, pid): int(units)
        for loc, pid, units in await session.execute(
            select(StockReservation.location_id, StockReservation.product_id,
                   func.sum(StockReservation.quantity))
            .where(StockReservation.status == ReservationStatus.HELD)
            .group_by(StockReservation.location_id, StockReservation.product_id)
        )
    }  # fmt: skip
    history = {
        (loc, pid): int(total)
        for loc, pid, total in await session.execute(
            select(StockMovement.location_id, StockMovement.product_id,
                   func.sum(StockMovement.applied))
            .group_by(StockMovement.location_id, StockMovement.product_id)
        )
    }  # fmt: skip
    rows = await session.execute(
        select(StockLevel.location_id, StockLocation.code, StockLevel.product_id,
               StockLevel.on_hand, StockLevel.reserved)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .order_by(StockLevel.location_id, StockLevel.product_id)
    )  # fmt: skip
    drifts: list[Drift] = []
    count = 0
    for loc, code, pid, on_hand, reserved in rows:
        count += 1
        key = (loc, pid)
        ledger = history.get(key)
        units = held.get(key, 0)
        if reserved != units or (ledger is not None and ledger != on_hand):
            drifts.append(Drift(loc, code, pid, on_hand, reserved, units, ledger))
    return CheckReport(count, len(history), drifts)


async def repair(session: AsyncSession, drifts: list[Drift], now: datetime) -> int:
    """Make each drifting row agree (see the module); return how many were repaired."""
    for drift in drifts:
        key: Key = (drift.location_id, drift.product_id)
        on_hand = drift.expected_on_hand
        await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == key[0], StockLevel.product_id == key[1])
            .values(on_hand=on_hand, reserved=drift.held, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if drift.history is not None and on_hand != drift.history:
            level = Level(on_hand, drift.held, True, None, None, 0)
            row = opening_row(key, level, now) | {
                "source": MovementSource.CHECK, "kind": StockMovementKind.ADJUSTMENT,
                "quantity": on_hand - drift.history, "occurred_at": now,
                "applied": on_hand - drift.history, "on_hand_after": on_hand,
            }  # fmt: skip
            await session.execute(insert(StockMovement).values(**row))
        await session.execute(
            insert(StaffAuditEntry).values(
                staff_user_id=None, device_id=None, action="stock.repair",
                subject_type="product", subject_id=drift.product_id, store_id=None, at=now,
                details={
                    "location": drift.location_code,
                    "before": {"onHand": drift.on_hand, "reserved": drift.reserved},
                    "after": {"onHand": on_hand, "reserved": drift.held},
                    "history": drift.history, "by": "omnicart stock check --fix",
                },
            )
        )  # fmt: skip
    await record_product_changes(session, {d.product_id for d in drifts}, stock_only=True)
    return len(drifts)
