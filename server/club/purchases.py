"""One purchase history over channels: a customer's orders and till receipts, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import InvalidInput, PermissionDenied
from server.models import Order, Receipt
from server.staff import record_action, staff_actor
from server.viewer import Viewer

MAX_PAGE = 100
PurchaseKind = Literal["order", "receipt"]
# Of an order and a receipt at the same moment, the receipt comes first.
_RANK: dict[PurchaseKind, int] = {"order": 0, "receipt": 1}


@dataclass(frozen=True, slots=True)
class PurchaseRef:
    """One purchase in the history: an order or a receipt, by id, and when it was made."""

    kind: PurchaseKind
    id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class PurchasePage:
    """A page of the history and whether older purchases follow."""

    items: tuple[PurchaseRef, ...]
    has_next: bool


async def purchases_for(
    session: AsyncSession,
    viewer: Viewer,
    customer_id: int,
    *,
    first: int,
    after: tuple[PurchaseKind, int] | None,
    now: datetime,
) -> PurchasePage:
    """Return a page of the customer's purchases, to the customer or to staff (audited).

    Anyone else is refused (UNAUTHORIZED): a kiosk never sees a member's history.
    """
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"Ask for 1 to {MAX_PAGE} purchases.", field="first")
    if viewer.customer_id != customer_id:
        actor = staff_actor(viewer)
        if actor is None or not actor.is_person:
            raise PermissionDenied("Only the customer and staff see purchase history.")
        await record_action(
            session,
            actor,
            "customer.purchases",
            subject_type="customer",
            subject_id=customer_id,
            store_id=actor.store_id,
            now=now,
        )
    cursor = await _cursor(session, customer_id, after)
    orders = await _newest(session, "order", customer_id, cursor, first + 1)
    receipts = await _newest(session, "receipt", customer_id, cursor, first + 1)
    merged = sorted(orders + receipts, key=_key, reverse=True)
    return PurchasePage(tuple(merged[:first]), len(merged) > first)


def _key(ref: PurchaseRef) -> tuple[datetime, int, int]:
    return (ref.at, _RANK[ref.kind], ref.id)


async def _cursor(
    session: AsyncSession, customer_id: int, after: tuple[PurchaseKind, int] | None
) -> tuple[datetime, int, int] | None:
    if after is None:
        return None
    kind, ident = after
    found = await _newest(session, kind, customer_id, None, 1, only=ident)
    if not found:
        raise InvalidInput("That cursor is not one this server handed out.", field="after")
    return _key(found[0])


async def _newest(
    session: AsyncSession,
    kind: PurchaseKind,
    customer_id: int,
    before: tuple[datetime, int, int] | None,
    limit: int,
    *,
    only: int | None = None,
) -> list[PurchaseRef]:
    table = Order if kind == "order" else Receipt
    at = Order.created_at if kind == "order" else Receipt.sold_at
    stmt = select(table.id, at).where(table.customer_id == customer_id)
    if only is not None:
        stmt = stmt.where(table.id == only)
    if before is not None:
        # Strictly older in the order (time, kind's rank, id), newest first.
        moment, rank, ident = before
        mine = _RANK[kind]
        if mine < rank:
            stmt = stmt.where(at <= moment)
        elif mine == rank:
            stmt = stmt.where(or_(at < moment, and_(at == moment, table.id < ident)))
        else:
            stmt = stmt.where(at < moment)
    rows = await session.execute(stmt.order_by(at.desc(), table.id.desc()).limit(limit))
    return [PurchaseRef(kind, ident, moment) for ident, moment in rows]
