"""Finding orders for whoever asks: shoppers their own, staff their store's, admins all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import InvalidInput, PermissionDenied
from server.orders.access import may_see
from server.orders.views import (
    MAX_PAGE,
    OrderPage,
    OrderView,
    at_store,
    list_orders,
    load_order,
    order_by_number,
    pages_per_customer,
    placed_by,
)
from server.staff import require_staff
from server.viewer import Viewer


def _page_size(first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"Ask for 0 to {MAX_PAGE} orders at a time.", field="first")
    return first


async def order_for_viewer(
    session: AsyncSession, viewer: Viewer, order_id: int
) -> OrderView | None:
    """Return the order if the viewer may see it; None when missing and when not theirs."""
    order = await load_order(session, order_id)
    return order if order is not None and may_see(viewer, order) else None


async def order_by_number_for_viewer(
    session: AsyncSession, viewer: Viewer, number: str
) -> OrderView | None:
    """Return the order with this number (any typed form) if the viewer may see it."""
    order = await order_by_number(session, number)
    return order if order is not None and may_see(viewer, order) else None


async def shopper_orders(
    session: AsyncSession, viewer: Viewer, *, before_id: int | None, first: int
) -> OrderPage:
    """Return the orders the viewer placed (signed in, or with their cart token), newest first."""
    return await list_orders(
        session,
        condition=placed_by(viewer.customer_id, viewer.cart_token_hash),
        before_id=before_id,
        limit=_page_size(first),
    )


async def customer_orders(
    session: AsyncSession, customer_ids: Iterable[int], *, before_id: int | None, first: int
) -> dict[int, OrderPage]:
    """Return a page of each customer's orders, newest first, in one query for any number.

    For a staff lookup already authorised; a customer without orders gets an empty page.
    """
    return await pages_per_customer(
        session, customer_ids, before_id=before_id, limit=_page_size(first)
    )


async def store_orders(
    session: AsyncSession,
    viewer: Viewer,
    *,
    store_id: int | None,
    statuses: Sequence[str],
    fulfilment: str | None,
    before_id: int | None,
    first: int,
) -> OrderPage:
    """Return a store's orders (collected there) for its staff; admins any store, or all.

    Store staff see their own store when ``store_id`` is left out; naming another store
    is refused.
    """
    actor = require_staff(viewer)
    if not actor.is_admin:
        if store_id is not None and store_id != actor.store_id:
            raise PermissionDenied("Staff see their own store's orders.")
        store_id = actor.store_id
    return await list_orders(
        session,
        condition=at_store(store_id),
        statuses=statuses,
        fulfilment=fulfilment,
        before_id=before_id,
        limit=_page_size(first),
    )
