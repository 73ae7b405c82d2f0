"""Tell me when it is back here: requests on products out of stock in a store, and their alert.

A shopper asks on a product that has nothing available at their store: by push (anyone
holding a session or a cart token whose browser subscribed), or by email or SMS (signed-in
customers, to their account's address or phone). ``check_available`` runs wherever
available stock rises — a cancelled or expired order's release, a return's restock, a
stock movement from a till or warehouse — and, for each open request whose product is now
available at that location, closes it and writes its one notification in the same
transaction. Closing is ``UPDATE … WHERE notified_at IS NULL``, so two changes at once
notify once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from server.models import BackInStockRequest, Product, StockLevel
from server.notifications.writer import Channel, enqueue, recipients_of
from server.viewer import Viewer


@dataclass(frozen=True, slots=True)
class StockAlert:
    """An open or fulfilled back-in-stock request."""

    id: int
    product_id: int
    store_id: int
    channel: str
    created_at: datetime
    notified_at: datetime | None


async def request_back_in_stock(
    session: AsyncSession,
    viewer: Viewer,
    *,
    product_id: int,
    store_id: int,
    channel: Channel,
    language: str,
    now: datetime,
) -> StockAlert:
    """Record that the viewer wants one message when the product is available at the store.

    Asking again for the same product, store and channel answers the open request. Raises
    PermissionDenied (nobody to tell; email and SMS need a signed-in customer), NotFound
    (store), InvalidInput (no phone for SMS, no push subscription for push) and Conflict
    (it is available there now).
    """
    owner_token = viewer.cart_token_hash if viewer.customer_id is None else None
    if viewer.customer_id is None and (channel != "push" or owner_token is None):
        raise PermissionDenied(
            "Sign in to be told by email or SMS; push needs a cart or a sign-in.", field="channel"
        )
    location = await catalog.location_for_store(session, store_id)
    if location is None or location.store_id is None:
        raise NotFound("There is no such store.", field="storeId")
    available = await session.scalar(
        select(StockLevel.on_hand - StockLevel.reserved).where(
            StockLevel.location_id == location.id, StockLevel.product_id == product_id
        )
    )
    if available is not None and available > 0:
        raise Conflict("It is in stock in this store now.", field="gtin")
    await _check_reachable(session, viewer, channel)
    same = and_(
        BackInStockRequest.product_id == product_id,
        BackInStockRequest.store_id == store_id,
        BackInStockRequest.channel == channel,
        BackInStockRequest.notified_at.is_(None),
        BackInStockRequest.customer_id == viewer.customer_id
        if viewer.customer_id is not None
        else BackInStockRequest.cart_token_hash == owner_token,
    )
    existing = await session.scalar(select(BackInStockRequest).where(same).limit(1))
    if existing is None:
        existing = BackInStockRequest(
            product_id=product_id,
            store_id=store_id,
            location_id=location.id,
            channel=channel,
            customer_id=viewer.customer_id,
            cart_token_hash=owner_token,
            language=language,
            created_at=now,
        )
        session.add(existing)
        await session.flush()
    return StockAlert(
        existing.id, product_id, store_id, channel, existing.created_at, existing.notified_at
    )


async def _check_reachable(session: AsyncSession, viewer: Viewer, channel: Channel) -> None:
    """Refuse a request whose message could reach nobody (no phone, no subscription)."""
    reach = await recipients_of(
        session, customer_id=viewer.customer_id, cart_token_hash=viewer.cart_token_hash
    )
    if channel == "sms" and reach.phone is None:
        raise InvalidInput("Add a phone number to your account to be told by SMS.", field="channel")
    if channel == "push" and not reach.push_subscription_ids:
        raise InvalidInput("Allow notifications in this browser first.", field="channel")


async def check_available(
    session: AsyncSession, location_id: int, product_ids: Sequence[int], now: datetime
) -> int:
    """Notify the open requests these products now fulfil at this location; return how many.

    Call it in the transaction that made stock available (after the change): a request
    is fulfilled when its product has more on hand than reserved at its store's location.
    """
    if not product_ids:
        return 0
    available = (
        select(StockLevel.product_id)
        .where(
            StockLevel.location_id == location_id,
            StockLevel.product_id.in_(sorted(set(product_ids))),
            StockLevel.on_hand - StockLevel.reserved > 0,
        )
        .scalar_subquery()
    )
    closed = (
        (
            await session.execute(
                update(BackInStockRequest)
                .where(
                    BackInStockRequest.location_id == location_id,
                    BackInStockRequest.notified_at.is_(None),
                    BackInStockRequest.product_id.in_(available),
                )
                .values(notified_at=now)
                .returning(BackInStockRequest)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    for request in sorted(closed, key=lambda r: r.id):
        await _notify(session, request, now)
    return len(closed)


async def _notify(session: AsyncSession, request: BackInStockRequest, now: datetime) -> None:
    """Write the one notification of a fulfilled request."""
    product = await session.get(Product, request.product_id)
    store = (await catalog.stores_by_ids(session, [request.store_id])).get(request.store_id)
    gtins = (await catalog.barcodes_by_product(session, [request.product_id])).get(
        request.product_id
    ) or [""]
    recipients = await recipients_of(
        session, customer_id=request.customer_id, cart_token_hash=request.cart_token_hash
    )
    await enqueue(
        session,
        key=f"stock:{request.id}",
        kind="back_in_stock",
        recipients=recipients,
        language=request.language,
        payload={
            "product": product.name if product else "",
            "store": store.name if store else "",
            "url": f"/#/product/{gtins[0].lstrip('0').rjust(13, '0')}",
        },
        now=now,
        channels=(request.channel,),  # type: ignore[arg-type]
    )


async def asked_counts(
    session: AsyncSession, store_id: int, since: datetime, until: datetime
) -> dict[int, int]:
    """Return per product how many asked to be told at this store in [since, until)."""
    rows = await session.execute(
        select(BackInStockRequest.product_id, func.count())
        .where(
            BackInStockRequest.store_id == store_id,
            BackInStockRequest.created_at >= since,
            BackInStockRequest.created_at < until,
        )
        .group_by(BackInStockRequest.product_id)
    )
    return {pid: int(n) for pid, n in rows}
