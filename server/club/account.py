"""The customer's own data: preferences, a JSON export of everything kept, and deletion.

Deleting an account removes the customer, their sessions, membership, consents and points;
orders and till receipts stay for the accounts with every personal field erased (the
customer link, a delivery address, the guest-cart token), and an audit row records that
it happened (``customer.delete``, no personal data in it).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.club.membership import consents_of, memberships_of
from server.club.points import ledger_of
from server.club.receipts import receipts_by_ids
from server.errors import InvalidInput, NotFound, PermissionDenied
from server.models import Cart, Customer, Order, OrderLine, Receipt, StaffAuditEntry, Store
from server.states import CartStatus
from server.viewer import Viewer

LANGUAGES = ("nb", "en")
ERASED_ADDRESS = "(erased)"


def own_customer(viewer: Viewer) -> int:
    """Return the signed-in customer's id, or raise PermissionDenied."""
    if viewer.customer_id is None:
        raise PermissionDenied("Sign in to reach your account.")
    return viewer.customer_id


async def update_preferences(
    session: AsyncSession,
    viewer: Viewer,
    *,
    language: str | None,
    favourite_store_id: int | None,
) -> Customer:
    """Set the signed-in customer's language ('nb', 'en' or None) and favourite store."""
    customer_id = own_customer(viewer)
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("The language is nb or en.", field="language")
    if favourite_store_id is not None and await session.get(Store, favourite_store_id) is None:
        raise NotFound("There is no such store.", field="favouriteStoreId")
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(language=language, favourite_store_id=favourite_store_id)
        .execution_options(synchronize_session=False)
    )
    customer = await session.get(Customer, customer_id, populate_existing=True)
    assert customer is not None
    return customer


async def export_data(session: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Return everything kept about the signed-in customer, as JSON-ready values."""
    customer_id = own_customer(viewer)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("There is no such customer.")
    membership = (await memberships_of(session, [customer_id]))[customer_id]
    orders = await _orders_export(session, customer_id)
    receipt_ids = (
        (await session.execute(select(Receipt.id).where(Receipt.customer_id == customer_id)))
        .scalars()
        .all()
    )
    receipts = await receipts_by_ids(session, list(receipt_ids))
    return _jsonable(
        {
            "customer": {
                "email": customer.email,
                "name": customer.name,
                "phone": customer.phone,
                "createdAt": customer.created_at,
                "language": customer.language,
                "favouriteStoreId": customer.favourite_store_id,
            },
            "membership": asdict(membership) if membership else None,
            "consents": [asdict(c) for c in await consents_of(session, customer_id)],
            "points": [asdict(e) for e in await ledger_of(session, customer_id)],
            "orders": orders,
            "receipts": [asdict(r) for r in receipts.values()],
        }
    )


async def delete_account(
    session: AsyncSession, viewer: Viewer, *, confirm_email: str, now: datetime
) -> int:
    """Delete the signed-in customer (they retype their email); return the orders kept."""
    customer_id = own_customer(viewer)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("There is no such customer.")
    if confirm_email.strip().lower() != customer.email:
        raise InvalidInput("Type your email address to confirm.", field="email")
    kept = int(
        await session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer_id)
        )
        or 0
    )
    await session.execute(
        update(Order)
        .where(Order.customer_id == customer_id)
        .values(
            customer_id=None,
            cart_token_hash=None,
            # A delivery order must keep an address (a CHECK says so): it says "(erased)".
            delivery_address=case(
                (Order.delivery_address.is_not(None), ERASED_ADDRESS), else_=None
            ),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Cart)
        .where(Cart.customer_id == customer_id)
        .values(status=CartStatus.CLOSED, customer_id=None, token_hash=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Customer).where(Customer.id == customer_id))
    await session.execute(
        insert(StaffAuditEntry).values(
            action="customer.delete",
            subject_type="customer",
            subject_id=customer_id,
            details={"orders_kept": kept},
            at=now,
        )
    )
    session.expunge(customer)
    return kept


async def _orders_export(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """Return the customer's orders with their lines, oldest first."""
    orders = (
        (
            await session.execute(
                select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
            )
        )
        .scalars()
        .all()
    )
    lines = (
        (
            await session.execute(
                select(OrderLine)
                .where(OrderLine.order_id.in_([o.id for o in orders]))
                .order_by(OrderLine.order_id, OrderLine.position)
            )
        )
        .scalars()
        .all()
    )
    return [
        {
            "id": o.id,
            "status": o.status,
            "fulfilment": o.fulfilment,
            "deliveryAddress": o.delivery_address,
            "total": o.total,
            "currency": o.currency,
            "createdAt": o.created_at,
            "lines": [
                {
                    "name": ln.name,
                    "gtin": ln.gtin,
                    "quantity": ln.quantity,
                    "unitPrice": ln.unit_price,
                }
                for ln in lines
                if ln.order_id == o.id
            ],
        }
        for o in orders
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
