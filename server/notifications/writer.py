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
from typing import Any, Literal, cast

from sqlalchemy import Table, or_, select
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

    @property
    def anywhere(self) -> bool:
        """Say whether the shopper can be reached at all."""
        return bool(self.email or self.phone or self.push_subscription_ids)


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
    message = {
        "kind": kind,
        "purpose": purpose,
        "language": checked_language(language),
        "payload": payload,
        "order_id": order_id,
    }
    return await _insert(session, _rows_of(key, message, recipients, allowed, now))


def _rows_of(
    key: str,
    message: dict[str, Any],
    recipients: Recipients,
    allowed: Collection[Channel],
    now: datetime,
) -> list[dict[str, Any]]:
    """Return a message's notification rows, one per channel it goes over."""
    base = message | {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "recipient": "",
        "push_subscription_id": None,
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
    return rows


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert notification rows whose key is new, in one statement; return how many."""
    if not rows:
        return 0
    # A Core INSERT: the ORM's bulk path would split rows of different channels into
    # statements of their own.
    table = cast(Table, Notification.__table__)
    inserted = await session.execute(
        upsert(session, table)
        .on_conflict_do_nothing(index_elements=[table.c.key])
        .returning(table.c.id),
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
    return await notify_orders(session, [order], kind, now, event=event)


async def notify_orders(
    session: AsyncSession,
    orders: Sequence[OrderFacts],
    kind: str,
    now: datetime,
    *,
    event: str = "",
) -> int:
    """``notify_order`` for several orders at once: a few statements whatever their number.

    Their accounts and push subscriptions are read in one query each, their stores in one,
    and every row is written by one INSERT; orders nobody can be told about cost nothing
    more than those reads.
    """
    assert kind in ORDER_KINDS, kind
    reach = await _recipients_of_orders(session, orders)
    told = [order for order in orders if reach[order.id].anywhere]
    if not told:
        return 0
    stores = await catalog.stores_by_ids(
        session, {o.pickup_store_id for o in told if o.pickup_store_id is not None}
    )
    rows: list[dict[str, Any]] = []
    for order in told:
        store = stores.get(order.pickup_store_id) if order.pickup_store_id is not None else None
        message = {
            "kind": kind,
            "purpose": "transactional",
            "language": checked_language(order.language),
            "payload": await _order_payload(session, order, kind, store.name if store else ""),
            "order_id": order.id,
        }
        key = f"order:{order.id}:{kind}" + (f":{event}" if event else "")
        rows += _rows_of(key, message, reach[order.id], ("email", "sms", "push"), now)
    return await _insert(session, rows)


async def _recipients_of_orders(
    session: AsyncSession, orders: Sequence[OrderFacts]
) -> dict[int, Recipients]:
    """Return ``recipients_of`` each order's shopper, reading accounts and subscriptions once."""
    customers = {
        o.customer_id
        for o in orders
        if o.customer_id is not None and (o.contact_email is None or o.contact_phone is None)
    }
    accounts: dict[int, tuple[str | None, str | None]] = {}
    if customers:
        found = await session.execute(
            select(Customer.id, Customer.email, Customer.phone).where(Customer.id.in_(customers))
        )
        accounts = {row.id: (row.email, row.phone) for row in found}
    owners = []
    with_customer = {o.customer_id for o in orders if o.customer_id is not None}
    with_token = {o.cart_token_hash for o in orders if o.cart_token_hash is not None}
    if with_customer:
        owners.append(PushSubscription.customer_id.in_(with_customer))
    if with_token:
        owners.append(PushSubscription.cart_token_hash.in_(with_token))
    subscriptions: list[tuple[int, int | None, str | None]] = []
    if owners:
        found = await session.execute(
            select(
                PushSubscription.id, PushSubscription.customer_id, PushSubscription.cart_token_hash
            )
            .where(or_(*owners))
            .order_by(PushSubscription.id)
        )
        subscriptions = [(row.id, row.customer_id, row.cart_token_hash) for row in found]
    reach: dict[int, Recipients] = {}
    for o in orders:
        email, phone = o.contact_email, o.contact_phone
        if o.customer_id in accounts:
            account_email, account_phone = accounts[o.customer_id]
            email, phone = email or account_email, phone or account_phone
        push_ids = tuple(
            sid
            for sid, customer_id, token_hash in subscriptions
            if (o.customer_id is not None and customer_id == o.customer_id)
            or (o.cart_token_hash is not None and token_hash == o.cart_token_hash)
        )
        reach[o.id] = Recipients(email or None, phone or None, push_ids)
    return reach


async def _order_payload(
    session: AsyncSession, order: OrderFacts, kind: str, store: str
) -> dict[str, Any]:
    """Return what the templates of an order message fill in, as it is now (``store``: its name)."""
    payload: dict[str, Any] = {
        "number": order.number,
        "total": order.total,
        "currency": order.currency,
        "store": store,
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
