"""Notifications: the outbox of messages to shoppers, push subscriptions, stock alerts, baskets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow

CHANNELS = ("email", "sms", "push")
STATUSES = ("pending", "sent", "failed", "skipped")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Notification(Base):
    """One message to one recipient over one channel, written in the event's transaction.

    ``key`` names the notification and its channel (``order:12:ready:email``): the same
    event never writes a second row, and the key travels with the message (Message-ID, the
    SMS gateway's ``id``, the push payload's ``tag``) so a repeat can be recognised. The
    sender claims a row by moving ``next_attempt_at`` past the claim's lease; see
    ``server.notifications.sender``.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="known_channel"),
        CheckConstraint(_one_of("status", STATUSES), name="known_status"),
        CheckConstraint("purpose IN ('transactional', 'marketing')", name="known_purpose"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16), default="transactional")
    channel: Mapped[str] = mapped_column(String(8))
    # An email address or a phone number; empty for push (the subscription says where).
    recipient: Mapped[str] = mapped_column(String(254), default="")
    push_subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="CASCADE")
    )
    language: Mapped[str] = mapped_column(String(2))
    # What the templates fill in, as it was at the event (order number, store, totals…).
    payload: Mapped[dict[str, Any]] = mapped_column()
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class PushSubscription(Base):
    """A browser's Web Push subscription, of a signed-in customer or a guest cart's holder."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        Index("ix_push_subscriptions_customer", "customer_id"),
        Index("ix_push_subscriptions_cart_token", "cart_token_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    cart_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BackInStockRequest(Base):
    """A shopper's "tell me when it is back here": one product, one store, one channel.

    Open while ``notified_at`` is null; the first change that makes the product available
    at the store's location writes its one notification and closes it.
    """

    __tablename__ = "back_in_stock_requests"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="known_channel"),
        Index("ix_back_in_stock_open", "location_id", "product_id", "notified_at"),
        Index("ix_back_in_stock_store", "store_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    channel: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    cart_token_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column()


class CoPurchase(Base):
    """How often two products were bought together (kept both ways round: a→b and b→a)."""

    __tablename__ = "co_purchases"
    __table_args__ = (Index("ix_co_purchases_product_count", "product_id", "count"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    other_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0)
