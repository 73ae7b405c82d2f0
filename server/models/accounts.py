"""Who may act: customers and their sign-in sessions, store devices, and failed-attempt records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class Customer(Base):
    """A shopper with an account; signs in with email and password on any device."""

    __tablename__ = "customers"
    __table_args__ = (CheckConstraint("language IN ('nb', 'en')", name="known_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored trimmed and lower-cased, so one address is one account whatever its spelling.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Preferences: the language to be spoken to in ('nb' or 'en') and the store to start from.
    language: Mapped[str | None] = mapped_column(String(2))
    favourite_store_id: Mapped[int | None] = mapped_column(
        ForeignKey("stores.id", ondelete="SET NULL")
    )


class CustomerSession(Base):
    """One signed-in device of a customer, reached with an opaque bearer token (stored hashed)."""

    __tablename__ = "customer_sessions"
    __table_args__ = (Index("ix_customer_sessions_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Device(Base):
    """A device of one store, added by `omnicart device add`.

    A kiosk (order station), a staff tablet, or an integration device that records stock
    movements: a till (``pos``) or a warehouse system (``warehouse``, which may also record
    for the online warehouse).
    """

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("kind IN ('kiosk', 'staff', 'pos', 'warehouse')", name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class AuthFailure(Base):
    """One failed attempt (a wrong handoff code, a wrong password) counted against a bucket.

    Kept in the database so that every worker process counts the same attempts.
    """

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_bucket_time", "bucket", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "claim:device:12", "claim:addr:203.0.113.9", "signin:email:<sha256>".
    bucket: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
