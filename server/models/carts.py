"""Carts and their lines, idempotency records, kiosk handoff codes and device claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow
from server.states import CartStatus, one_of


class Cart(Base):
    """A shopping cart; the server's copy is the truth and ``version`` counts its changes.

    A guest cart has no customer and is reached with its secret token (stored hashed); a
    customer's cart is reached with the customer's session. ``status`` is ``active`` while
    it can change, ``merged`` once its lines moved into a customer's cart at sign-in.
    """

    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(one_of("status", CartStatus), name="known_status"),
        # One active cart per customer, whatever device asks.
        Index(
            "uq_carts_active_customer",
            "customer_id",
            unique=True,
            sqlite_where=text(f"status = '{CartStatus.ACTIVE}'"),
            postgresql_where=text(f"status = '{CartStatus.ACTIVE}'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=CartStatus.ACTIVE)
    version: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CartLine(Base):
    """A product in a cart with its quantity; prices are read from the catalog, never stored."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "product_id"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """The outcome of a cart mutation sent with an idempotency key, replayed on a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("cart_id", "operation", "key"),
        Index("ix_idempotency_keys_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    # sha256 of the request's canonical form: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class CartHandoff(Base):
    """A short single-use code the shopper's phone shows so a kiosk can pick the cart up."""

    __tablename__ = "cart_handoffs"
    __table_args__ = (Index("ix_cart_handoffs_code_hash", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    # Keyed hash (HMAC with the server secret) of the canonical code.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )


class CartClaim(Base):
    """A kiosk's or staff device's bounded access to a shopper's cart after a handoff."""

    __tablename__ = "cart_claims"
    __table_args__ = (Index("ix_cart_claims_device_cart", "device_id", "cart_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("cart_handoffs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
