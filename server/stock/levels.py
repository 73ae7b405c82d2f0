"""What staff read of stock: levels at a location (optionally only the low ones) and the
movements behind one level, newest first. Every read writes an audit row.

Store staff (and a store's staff device) read their own store; admins every store and the
online warehouse. Customers, kiosks, tills and guests get ``UNAUTHORIZED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import InvalidInput, NotFound, PermissionDenied
from server.models import Product, StockLevel, StockMovement
from server.staff import record_action, require_staff
from server.staff.access import StaffActor
from server.viewer import Viewer

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class LevelView:
    """A product's stock at one location as staff see it."""

    product_id: int
    location_id: int
    store_id: int | None
    on_hand: int
    reserved: int
    updated_at: datetime

    @property
    def available(self) -> int:
        """Return on hand minus reserved, never below zero."""
        return max(self.on_hand - self.reserved, 0)


@dataclass(frozen=True, slots=True)
class MovementView:
    """One ledger row as staff see it."""

    id: int
    movement_id: str | None
    source: str
    kind: str
    quantity: int
    applied: int
    on_hand_after: int
    unknown_units: int
    reserved_units: int
    occurred_at: datetime
    recorded_at: datetime
    device_id: int | None
    order_id: int | None
    transfer_id: str | None
    receipt_number: str | None


async def _location_for(session: AsyncSession, actor: StaffActor, store_id: int | None) -> int:
    """Return the location staff may read: their store's, or (admins) any and the online one."""
    if store_id is None and not actor.is_admin:
        raise PermissionDenied("Only admins read the online warehouse's stock.")
    if store_id is not None and not actor.works_at(store_id):
        raise NotFound("No such store.", field="storeId")
    location = await catalog.location_for_store(session, store_id)
    if location is None:
        raise NotFound("That place holds no stock.", field="storeId")
    return location.id


async def stock_levels(
    session: AsyncSession,
    viewer: Viewer,
    *,
    store_id: int | None,
    low_only: bool,
    low_threshold: int,
    after_product_id: int | None,
    limit: int,
    now: datetime,
) -> tuple[list[LevelView], bool]:
    """Return a page of a location's levels by product id (``low_only``: at or below the
    threshold of available units), and whether more follow; recorded in the audit trail."""
    actor = require_staff(viewer)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"Ask for 1 to {MAX_PAGE} levels at a time.", field="first")
    location_id = await _location_for(session, actor, store_id)
    stmt = (
        select(StockLevel)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.location_id == location_id, Product.active.is_(True))
        .order_by(StockLevel.product_id)
        .limit(limit + 1)
    )
    if low_only:
        stmt = stmt.where(StockLevel.on_hand - StockLevel.reserved <= low_threshold)
    if after_product_id is not None:
        stmt = stmt.where(StockLevel.product_id > after_product_id)
    rows = (await session.execute(stmt)).scalars().all()
    views = [
        LevelView(r.product_id, r.location_id, store_id, r.on_hand, r.reserved, r.updated_at)
        for r in rows[:limit]
    ]
    await record_action(
        session, actor, "stock.levels", subject_type="store", subject_id=store_id,
        store_id=store_id, now=now, details={"lowOnly": low_only, "count": len(views)},
    )  # fmt: skip
    return views, len(rows) > limit


async def stock_movements(
    session: AsyncSession,
    viewer: Viewer,
    *,
    product_id: int,
    store_id: int | None,
    before_id: int | None,
    limit: int,
    now: datetime,
) -> tuple[list[MovementView], bool]:
    """Return the newest ledger rows of a product at a location (before ``before_id``), and
    whether older ones follow; recorded in the audit trail."""
    actor = require_staff(viewer)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"Ask for 1 to {MAX_PAGE} movements at a time.", field="first")
    location_id = await _location_for(session, actor, store_id)
    stmt = (
        select(StockMovement)
        .where(StockMovement.location_id == location_id, StockMovement.product_id == product_id)
        .order_by(StockMovement.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(StockMovement.id < before_id)
    rows = (await session.execute(stmt)).scalars().all()
    views = [_movement_view(r) for r in rows[:limit]]
    await record_action(
        session, actor, "stock.movements", subject_type="product", subject_id=product_id,
        store_id=store_id, now=now, details={"count": len(views)},
    )  # fmt: skip
    return views, len(rows) > limit


def _movement_view(r: StockMovement) -> MovementView:
    return MovementView(
        r.id, r.movement_id, r.source, r.kind, r.quantity, r.applied, r.on_hand_after,
        r.unknown_units, r.reserved_units, r.occurred_at, r.recorded_at, r.device_id,
        r.order_id, r.transfer_id, r.receipt_number,
    )  # fmt: skip
