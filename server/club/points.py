"""The points ledger: earning, holding at checkout, spending, releasing and taking back.

Rules in ``server.club``. Every function writes ledger rows in the caller's transaction
and flushes; the balance is ``SUM(points)`` of the member's rows, never a stored counter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.service import lock_customer
from server.club.membership import is_member
from server.errors import InsufficientPoints, InvalidInput, PermissionDenied
from server.models import Order, OrderLine, PointEntry
from server.states import PointKind

# What one point pays, in minor units (øre): 10 øre, so 100 points pay 10 kr.
POINT_VALUE = 10
# Earning is per 10 kr of paid value: 1000 øre.
EARN_UNIT = 1000
# Most points one checkout may use (keeps every sum far inside 64 bits).
MAX_USE = 10_000_000


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change of a member's points and where it came from."""

    id: int
    kind: PointKind
    points: int
    reason: str
    order_id: int | None
    receipt_id: int | None
    at: datetime


def earned_on(paid: int, points_per_10_kr: int) -> int:
    """Return the points ``paid`` minor units earn at the rate (whole points, rounded down)."""
    return max(paid, 0) * points_per_10_kr // EARN_UNIT


async def balance(session: AsyncSession, customer_id: int) -> int:
    """Return the member's points: the sum of their ledger."""
    total = await session.scalar(
        select(func.coalesce(func.sum(PointEntry.points), 0)).where(
            PointEntry.customer_id == customer_id
        )
    )
    return int(total or 0)


async def ledger_of(session: AsyncSession, customer_id: int) -> list[LedgerEntry]:
    """Return the member's ledger, oldest first."""
    rows = await session.execute(
        select(PointEntry).where(PointEntry.customer_id == customer_id).order_by(PointEntry.id)
    )
    return [
        LedgerEntry(e.id, PointKind(e.kind), e.points, e.reason, e.order_id, e.receipt_id, e.at)
        for e in rows.scalars()
    ]


async def add_entry(
    session: AsyncSession,
    customer_id: int,
    kind: PointKind,
    points: int,
    reason: str,
    *,
    now: datetime,
    order_id: int | None = None,
    receipt_id: int | None = None,
) -> None:
    """Write one ledger row (nothing for zero points)."""
    if points == 0:
        return
    await session.execute(
        insert(PointEntry).values(
            customer_id=customer_id,
            kind=kind,
            points=points,
            reason=reason,
            order_id=order_id,
            receipt_id=receipt_id,
            at=now,
        )
    )


def check_use(points: int, total: int) -> None:
    """Refuse a ``usePoints`` that is negative, too large, or worth more than the order."""
    if not 0 <= points <= MAX_USE:
        raise InvalidInput(f"Use between 0 and {MAX_USE} points.", field="usePoints")
    if points * POINT_VALUE > total:
        raise InvalidInput(
            f"{points} points are worth more than the order; use at most {total // POINT_VALUE}.",
            field="usePoints",
        )


async def hold_for_order(
    session: AsyncSession,
    customer_id: int | None,
    points: int,
    *,
    order_id: int,
    order_total: int,
    now: datetime,
) -> None:
    """Hold ``points`` of the member's balance for an order being placed.

    Under the customer's row lock (on SQLite the write lock) the balance is read and the
    ``held`` row written, so of concurrent checkouts only those the balance covers succeed;
    the rest get ``INSUFFICIENT_POINTS``.
    """
    check_use(points, order_total)
    if points == 0:
        return
    if customer_id is None or not await is_member(session, customer_id):
        raise PermissionDenied("Only club members pay with points.", field="usePoints")
    await lock_customer(session, customer_id)
    have = await balance(session, customer_id)
    if have < points:
        raise InsufficientPoints(
            f"You have {have} points; this checkout asks for {points}.", field="usePoints"
        )
    await add_entry(
        session, customer_id, PointKind.HELD, -points, "checkout", now=now, order_id=order_id
    )


async def points_used(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, int]:
    """Return the points each order was paid with (held or spent; zero when none)."""
    ids = set(order_ids)
    found = dict.fromkeys(ids, 0)
    if not ids:
        return found
    rows = await session.execute(
        select(PointEntry.order_id, func.sum(PointEntry.points))
        .where(
            PointEntry.order_id.in_(ids),
            PointEntry.kind.in_((PointKind.HELD, PointKind.SPENT)),
        )
        .group_by(PointEntry.order_id)
    )
    for order_id, points in rows:
        found[cast(int, order_id)] = -int(points)
    return found


async def release_order(session: AsyncSession, order_id: int, *, now: datetime) -> None:
    """Give back the points held for a cancelled or expired order."""
    rows = (
        await session.execute(
            select(PointEntry.customer_id, PointEntry.points).where(
                PointEntry.order_id == order_id, PointEntry.kind == PointKind.HELD
            )
        )
    ).all()
    for customer_id, points in rows:
        await add_entry(
            session,
            customer_id,
            PointKind.RELEASED,
            -points,
            "order cancelled or expired",
            now=now,
            order_id=order_id,
        )


async def order_completed(
    session: AsyncSession, order_id: int, *, now: datetime, points_per_10_kr: int
) -> None:
    """Spend the order's held points and earn on what was paid in money (members only)."""
    await session.execute(
        update(PointEntry)
        .where(PointEntry.order_id == order_id, PointEntry.kind == PointKind.HELD)
        .values(kind=PointKind.SPENT)
        .execution_options(synchronize_session=False)
    )
    order = (
        await session.execute(select(Order.customer_id, Order.total).where(Order.id == order_id))
    ).one()
    if not await is_member(session, order.customer_id):
        return
    used = (await points_used(session, [order_id]))[order_id]
    paid = order.total - used * POINT_VALUE
    await add_entry(
        session,
        order.customer_id,
        PointKind.EARNED,
        earned_on(paid, points_per_10_kr),
        "order",
        now=now,
        order_id=order_id,
    )


async def order_returned(
    session: AsyncSession, order_id: int, *, now: datetime, points_per_10_kr: int
) -> None:
    """Bring the order's points in line with what the member kept after a return."""
    order = (
        await session.execute(select(Order.customer_id, Order.total).where(Order.id == order_id))
    ).one()
    kept = await session.scalar(
        select(
            func.coalesce(
                func.sum(OrderLine.unit_price * (OrderLine.quantity - OrderLine.returned_quantity)),
                0,
            )
        ).where(OrderLine.order_id == order_id)
    )
    await settle_return(
        session,
        order.customer_id,
        total=order.total,
        kept=int(kept or 0),
        now=now,
        points_per_10_kr=points_per_10_kr,
        order_id=order_id,
    )


async def settle_return(
    session: AsyncSession,
    customer_id: int | None,
    *,
    total: int,
    kept: int,
    now: datetime,
    points_per_10_kr: int,
    order_id: int | None = None,
    receipt_id: int | None = None,
) -> None:
    """After a return, revoke points earned on goods brought back and refund points paid.

    The points spent on what is kept are ``used * kept // total`` (the rest come back), and
    the points earned are recomputed on the money paid for what is kept; each difference
    to the rows so far is one ledger row, so several partial returns add up exactly.
    """
    source = PointEntry.order_id == order_id if order_id else PointEntry.receipt_id == receipt_id
    rows = (await session.execute(select(PointEntry.kind, PointEntry.points).where(source))).all()
    if customer_id is None or not rows:
        return
    spent = -sum(p for k, p in rows if k in (PointKind.SPENT, PointKind.REFUNDED))
    earned = sum(p for k, p in rows if k in (PointKind.EARNED, PointKind.REVOKED))
    used = -sum(p for k, p in rows if k == PointKind.SPENT)
    spent_kept = used * kept // total if total else 0
    target = earned_on(kept - spent_kept * POINT_VALUE, points_per_10_kr)
    where = {"order_id": order_id, "receipt_id": receipt_id}
    await add_entry(
        session, customer_id, PointKind.REFUNDED, spent - spent_kept, "return", now=now, **where
    )
    await add_entry(
        session, customer_id, PointKind.REVOKED, target - earned, "return", now=now, **where
    )
