"""Staff: people who work in the stores (or for the whole chain), their sessions and audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class StaffUser(Base):
    """A staff account: ``staff`` works in one store, ``admin`` for every store.

    Added with ``omnicart staff add``; signs in with email and password (Argon2id).
    """

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("role IN ('staff', 'admin')", name="known_role"),
        CheckConstraint("role = 'admin' OR store_id IS NOT NULL", name="staff_has_store"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class StaffSession(Base):
    """A signed-in staff user on one tablet, reached with an ``ss_…`` token (stored hashed)."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff", "staff_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class StaffAuditEntry(Base):
    """One staff action: who (a staff user or a staff device), what, when, and on what."""

    __tablename__ = "staff_audit"
    __table_args__ = (
        Index("ix_staff_audit_at", "at"),
        Index("ix_staff_audit_staff_at", "staff_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    # e.g. order.mark_ready, order.return, customer.search, customer.view.
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column()
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
