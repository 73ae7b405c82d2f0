"""Writing notifications into the outbox, in the transaction of the event they tell about.

Callers hand over plain facts (``OrderFacts``), so this package never imports the order
services that call it. Each row is one (notification, channel), keyed so that the same
event written twice (a retried command, a re-run of ``omnicart remind-orders``) adds
nothing: ``INSERT … ON CONFLICT (key) DO NOTHING``.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.db import upsert
from server.models import Customer, Notification, PushSubscription
from server.notifications.complements import complements_of, order_product_ids
from server.notifications.language import checked_language

Channel = Literal["email", "sms", "push"]
Purpose = Literal["transactional", "marketing"]
ORDER_KINDS = ("order_placed", "order_ready", "order_expiring", "order_shipped", "order_returned")
MAX_COMPLEMENTS_IN_MESSAGE = 5


@dataclass(frozen=True, slots=True)
class Recipients:
    """Where one shopper can be reached: an address, a phone, their browsers' subscriptions."""

    email: str | None = None
    phone: str | None = None
    push_subscription_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What a message about an order needs, as the order stands in the event's transaction."""

    id: int
    number: str
    customer_id: int | None
    cart_token_hash: str | None
    contact_email: str | None
    contact_phone: str | None
    language: str
    pickup_store_id: int | None
    location_id: int
    total: int
    currency: str
    pickup_deadline: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)


def order_path(order_id: int) -> str:
    """Return the PWA's page of an order (its route takes the order's global id)."""
    global_id = base64.urlsafe_b64encode(f"Order:{order_id}".encode()).decode().rstrip("=")
    return f"/#/orders/{global_id}"


async def recipients_of(
    session: AsyncSession,
    *,
    customer_id: int | None,
    cart_token_hash: str | None,
    email: str | None = None,
    phone: str | None = None,
) -> Recipients:
    """Return where to reach a shopper: the contact they gave, else their account's, and push.

    A guest is reached only through what they gave and the browsers that subscribed while
    holding their cart's token; a customer through their account and their subscriptions.
    """
    if customer_id is not None and (email is None or phone is None):
        account = (
            await session.execute(
                select(Customer.email, Customer.phone).where(Customer.id == customer_id)
            )
        ).one_or_none()
        if account is not None:
            email = email or account.email
            phone = phone or account.phone
    owners = []
    if customer_id is not None:
        owners.append(PushSubscription.customer_id == customer_id)
    if cart_token_hash is not None:
        owners.append(PushSubscription.cart_token_hash == cart_token_hash)
    push_ids: tuple[int, ...] = ()
    if owners:
        found = await session.execute(
            select(PushSubscription.id).where(or_(*owners)).order_by(PushSubscription.id)
        )
        push_ids = tuple(found.scalars())
    return Recipients(email=email or None, phone=phone or None, push_subscription_ids=push_ids)


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    recipients: Recipients,
    language: str,
    payload: dict[str, Any],
    now: datetime,
    order_id: int | None = None,
    purpose: Purpose = "transactional",
    consented: Collection[Channel] = (),
    channels: Collection[Channel] = ("email", "sms", "push"),
) -> int:
    """Write one row per channel the shopper can be reached on; return how many are new.

    Marketing goes only over the channels in ``consented`` (the club's consents); a
    transactional message goes to whatever address was given. ``channels`` narrows the
    message to some channels (a back-in-stock request names its one).
    """
    allowed = set(channels) & (set(consented) if purpose == "marketing" else set(channels))
    base = {
        "kind": kind,
        "purpose": purpose,
        "language": checked_language(language),
        "payload": payload,
        "order_id": order_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    rows: list[dict[str, Any]] = []
    if "email" in allowed and recipients.email:
        rows.append(
            base | {"key": f"{key}:email", "channel": "email", "recipient": recipients.email}
        )
    if "sms" in allowed and recipients.phone:
        rows.append(base | {"key": f"{key}:sms", "channel": "sms", "recipient": recipients.phone})
    if "push" in allowed:
        rows.extend(
            base | {"key": f"{key}:push:{sid}", "channel": "push", "push_subscription_id": sid}
            for sid in recipients.push_subscription_ids
        )
    if not rows:
        return 0
    rows = [{"recipient": "", "push_subscription_id": None} | row for row in rows]
    inserted = await session.execute(
        upsert(session, Notification)
        .on_conflict_do_nothing(index_elements=[Notification.key])
        .returning(Notification.id),
        rows,
    )
    return len(inserted.all())


async def notify_order(
    session: AsyncSession, order: OrderFacts, kind: str, now: datetime, *, event: str = ""
) -> int:
    """Write the notifications of an order event (``order_ready`` …); return how many are new.

    ``event`` tells apart events of one kind that may happen more than once (each return);
    the key is ``order:<id>:<kind>[:<event>]``.
    """
    assert kind in ORDER_KINDS, kind
    recipients = await recipients_of(
        session,
        customer_id=order.customer_id,
        cart_token_hash=order.cart_token_hash,
        email=order.contact_email,
        phone=order.contact_phone,
    )
    if not (recipients.email or recipients.phone or recipients.push_subscription_ids):
        return 0
    payload = await _order_payload(session, order, kind)
    return await enqueue(
        session,
        key=f"order:{order.id}:{kind}" + (f":{event}" if event else ""),
        kind=kind,
        recipients=recipients,
        language=order.language,
        payload=payload,
        now=now,
        order_id=order.id,
    )


async def _order_payload(session: AsyncSession, order: OrderFacts, kind: str) -> dict[str, Any]:
    """Return what the templates of an order message fill in, as it is now."""
    store = None
    if order.pickup_store_id is not None:
        store = (await catalog.stores_by_ids(session, [order.pickup_store_id])).get(
            order.pickup_store_id
        )
    payload: dict[str, Any] = {
        "number": order.number,
        "total": order.total,
        "currency": order.currency,
        "store": store.name if store else "",
        "deadline": order.pickup_deadline.isoformat() if order.pickup_deadline else None,
        "url": order_path(order.id),
    } | order.extra
    if kind == "order_ready":
        payload["complements"] = await _complement_names(session, order)
    return payload


async def _complement_names(session: AsyncSession, order: OrderFacts) -> list[str]:
    """Return the names of up to five products that go well with the order, in stock there."""
    ordered: Sequence[int] = await order_product_ids(session, order.id)
    ids = await complements_of(
        session, ordered, order.location_id, first=MAX_COMPLEMENTS_IN_MESSAGE
    )
    products = await catalog.products_by_ids(session, ids)
    return [products[pid].name for pid in ids if pid in products]
