"""After checkout: a checked-out cart closes (a customer gets a fresh one), or gives up lines.

The checkout service (``server.orders``) calls these with the cart's row already locked by
its versioned UPDATE, so nothing else changes the cart meanwhile. ``retire_cart`` also ends
what pointed at a guest cart merged at sign-in (``server.carts.merge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.handoff import end_live_codes
from server.carts.versioning import forget_keys
from server.carts.views import CartView
from server.models import Cart, CartClaim, CartLine
from server.states import CartStatus


async def close_cart(session: AsyncSession, cart_id: int, now: datetime) -> None:
    """Close a checked-out cart: its lines stay as a record, nobody reaches it any more.

    (A checkout of the whole cart closes it with its version bump instead.) Its handoff
    codes, device claims and idempotency keys are left to expire: each of them leads only
    to an active cart (``reachable_by``, ``claim_handoff``), and an order's own key answers
    a retried checkout.
    """
    await session.execute(
        update(Cart)
        .where(Cart.id == cart_id)
        .values(status=CartStatus.CLOSED, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def retire_cart(session: AsyncSession, cart_id: int, now: datetime) -> None:
    """End what still points at a cart that closed or merged: codes, claims, retry keys."""
    await end_live_codes(session, cart_id, now)
    await session.execute(
        update(CartClaim)
        .where(CartClaim.cart_id == cart_id, CartClaim.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    await forget_keys(session, cart_id)


async def start_fresh_cart(session: AsyncSession, customer_id: int, now: datetime) -> CartView:
    """Give a customer whose cart just closed a new, empty active cart."""
    cart_id = (
        await session.execute(
            insert(Cart)
            .values(
                customer_id=customer_id,
                status=CartStatus.ACTIVE,
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(Cart.id)
        )
    ).scalar_one()
    return CartView(cart_id, 1, customer_id, now, ())


async def take_lines(session: AsyncSession, cart_id: int, line_ids: Sequence[int]) -> None:
    """Remove lines that became an order from a cart that stays open (a kiosk's split)."""
    await session.execute(
        delete(CartLine).where(CartLine.cart_id == cart_id, CartLine.id.in_(line_ids))
    )
