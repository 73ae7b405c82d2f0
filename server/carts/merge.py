"""Signing in with a guest cart: the guest cart becomes, or is merged into, the customer's cart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.closing import retire_cart
from server.carts.service import SET_LINE_QUANTITY, lock_customer
from server.carts.views import CartView, lines_of, load_view
from server.errors import NotFound
from server.models import Cart, CartLine
from server.states import CartStatus


@dataclass(frozen=True, slots=True)
class Attached:
    """The customer's cart after sign-in, and every cart whose version moved (to announce)."""

    cart: CartView
    changed: tuple[CartView, ...]


async def attach_guest_cart(
    session: AsyncSession,
    customer_id: int,
    guest_cart_id: int,
    guest_token_hash: str | None,
    now: datetime,
    *,
    max_quantity: int,
) -> Attached:
    """Give a signed-in customer the guest cart the caller holds (rules in ``server.carts``).

    The customer's row is locked first, then the two carts in id order, so two devices
    signing in to one account at once queue instead of losing or duplicating lines, and
    two transactions never wait on each other's carts the other way round.
    """
    await lock_customer(session, customer_id)
    guest = (
        await session.execute(
            select(Cart.id, Cart.status, Cart.customer_id, Cart.merged_into_id).where(
                Cart.id == guest_cart_id,
                Cart.token_hash == guest_token_hash,
                Cart.token_hash.is_not(None),
            )
        )
    ).one_or_none()
    if guest is None:
        raise NotFound("There is no such cart.", field="cartId")
    target = (
        await session.execute(
            select(Cart.id).where(Cart.customer_id == customer_id, Cart.status == CartStatus.ACTIVE)
        )
    ).scalar_one_or_none()
    # A repeated sign-in (a double tap, a retry) finds its work done and changes nothing.
    if guest.status == CartStatus.ACTIVE and guest.customer_id == customer_id:
        return Attached(await _view(session, guest.id), ())
    if guest.status == CartStatus.MERGED and target is not None and guest.merged_into_id == target:
        return Attached(await _view(session, target), ())
    if guest.status != CartStatus.ACTIVE or guest.customer_id is not None:
        raise NotFound("There is no such cart.", field="cartId")
    if target is None:
        return await _adopt(session, customer_id, guest.id, now)
    return await _merge(session, customer_id, guest.id, target, now, max_quantity)


async def _adopt(session: AsyncSession, customer_id: int, guest_id: int, now: datetime) -> Attached:
    """Make the guest cart the customer's cart; from now on its token reaches nothing."""
    adopted = (
        await session.execute(
            update(Cart)
            .where(
                Cart.id == guest_id, Cart.status == CartStatus.ACTIVE, Cart.customer_id.is_(None)
            )
            .values(customer_id=customer_id, version=Cart.version + 1, updated_at=now)
            .returning(Cart.version)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if adopted is None:
        raise NotFound("There is no such cart.", field="cartId")
    cart = await _view(session, guest_id)
    return Attached(cart, (cart,))


async def _merge(
    session: AsyncSession,
    customer_id: int,
    guest_id: int,
    target_id: int,
    now: datetime,
    max_quantity: int,
) -> Attached:
    """Move the guest cart's lines into the customer's cart and close the guest cart."""
    versions: dict[int, int] = {}
    for cart_id in sorted((guest_id, target_id)):
        owner = (
            Cart.customer_id.is_(None) if cart_id == guest_id else (Cart.customer_id == customer_id)
        )
        version = (
            await session.execute(
                update(Cart)
                .where(Cart.id == cart_id, Cart.status == CartStatus.ACTIVE, owner)
                .values(version=Cart.version + 1, updated_at=now)
                .returning(Cart.version)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if version is None:
            raise NotFound("There is no such cart.", field="cartId")
        versions[cart_id] = version
    mine = {line.product_id: line for line in await lines_of(session, target_id)}
    raised, added = [], []
    for line in await lines_of(session, guest_id):
        same = mine.get(line.product_id)
        if same is None:
            added.append(
                {
                    "cart_id": target_id,
                    "product_id": line.product_id,
                    "quantity": min(line.quantity, max_quantity),
                    "created_at": now,
                }
            )
        elif same.quantity < max_quantity:
            raised.append(
                {"line": same.id, "qty": min(same.quantity + line.quantity, max_quantity)}
            )
    if raised:
        await session.execute(SET_LINE_QUANTITY, raised)
    if added:
        await session.execute(insert(CartLine), added)
    await session.execute(
        update(Cart)
        .where(Cart.id == guest_id)
        .values(status=CartStatus.MERGED, merged_into_id=target_id)
        .execution_options(synchronize_session=False)
    )
    await retire_cart(session, guest_id, now)
    closed = CartView(guest_id, versions[guest_id], None, now, ())
    merged = await _view(session, target_id)
    return Attached(merged, (closed, merged))


async def _view(session: AsyncSession, cart_id: int) -> CartView:
    view = await load_view(session, cart_id)
    assert view is not None, "a locked cart exists"
    return view
