"""Looking a customer up at the staff tablet: by name, email or phone; orders and purchases.

Only a signed-in staff person (any store, any role) may look customers up, and every
lookup is written to the audit trail with what was asked and whom it found, in the same
transaction as the lookup. Name and email match anywhere, case-insensitively (on SQLite
only ASCII letters fold case; PostgreSQL folds every letter); a phone number matches on
its digits alone, so ``+47 912 34 567`` is found by ``91234``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.club.numbers import normalise_member_number
from server.errors import InvalidInput
from server.models import Customer, Membership, Order, OrderLine
from server.staff.access import require_staff
from server.staff.audit import record_action
from server.states import OrderStatus
from server.viewer import Viewer

MIN_QUERY = 2
MAX_QUERY = 100
MAX_RESULTS = 50
# Orders whose goods reached the shopper: what counts as bought.
BOUGHT_STATUSES = (
    OrderStatus.COLLECTED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.RETURNED,
)


@dataclass(frozen=True, slots=True)
class PurchasedProduct:
    """A product a customer has bought, summed over their orders (returns taken off)."""

    product_id: int
    name: str
    gtin: str
    units: int
    orders: int
    last_bought_at: datetime


def _phone_digits(column: Any) -> ColumnElement[str | None]:
    for ch in " -+().":
        column = func.replace(column, ch, "")
    return column


async def search_customers(
    session: AsyncSession, viewer: Viewer, query: str, *, limit: int, now: datetime
) -> list[Customer]:
    """Return customers whose name, email or phone matches ``query``, and audit the lookup."""
    actor = require_staff(viewer, person=True)
    text = query.strip()
    if not MIN_QUERY <= len(text) <= MAX_QUERY:
        raise InvalidInput(
            f"Search with {MIN_QUERY} to {MAX_QUERY} characters of a name, email or phone.",
            field="query",
        )
    limit = max(1, min(limit, MAX_RESULTS))
    ways = [
        func.lower(Customer.name).contains(text.lower(), autoescape=True),
        Customer.email.contains(text.lower(), autoescape=True),
    ]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        ways.append(_phone_digits(Customer.phone).contains(digits, autoescape=True))
    number = normalise_member_number(text)
    if number is not None:  # a scanned or typed member card
        ways.append(
            Customer.id.in_(select(Membership.customer_id).where(Membership.number == number))
        )
    rows = (
        (
            await session.execute(
                select(Customer).where(or_(*ways)).order_by(Customer.id).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    await record_action(
        session,
        actor,
        "customer.search",
        subject_type="customer",
        subject_id=rows[0].id if len(rows) == 1 else None,
        store_id=actor.store_id,
        now=now,
        details={"query": text, "found": [c.id for c in rows]},
    )
    return list(rows)


async def customer_for_staff(
    session: AsyncSession, viewer: Viewer, customer_id: int, *, now: datetime
) -> Customer | None:
    """Return one customer for a staff person (None if there is none), and audit the view."""
    actor = require_staff(viewer, person=True)
    customer = await session.get(Customer, customer_id)
    await record_action(
        session,
        actor,
        "customer.view",
        subject_type="customer",
        subject_id=customer_id,
        store_id=actor.store_id,
        now=now,
        details={"found": customer is not None},
    )
    return customer


async def purchase_history(
    session: AsyncSession, customer_ids: list[int]
) -> dict[int, list[PurchasedProduct]]:
    """Return what each customer bought, most recently bought first, in one query."""
    found: dict[int, list[PurchasedProduct]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return found
    units = func.sum(OrderLine.quantity - OrderLine.returned_quantity)
    rows = await session.execute(
        select(
            Order.customer_id,
            OrderLine.product_id,
            func.max(OrderLine.name),
            func.max(OrderLine.gtin),
            units,
            func.count(func.distinct(Order.id)),
            func.max(Order.created_at),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id.in_(set(customer_ids)), Order.status.in_(BOUGHT_STATUSES))
        .group_by(Order.customer_id, OrderLine.product_id)
        .order_by(Order.customer_id, func.max(Order.created_at).desc(), OrderLine.product_id)
    )
    for customer_id, product_id, name, gtin, bought, orders, last in rows:
        found[cast(int, customer_id)].append(
            PurchasedProduct(product_id, name, gtin, int(bought or 0), int(orders), last)
        )
    return found
