"""The customer club: memberships, consents, the points ledger and till receipts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow
from server.states import ConsentKind, PointKind, one_of


class Membership(Base):
    """A customer's club membership: the member number on their card and when they joined."""

    __tablename__ = "memberships"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    # Ten digits, the last a Luhn check digit (``server.club.numbers``).
    number: Mapped[str] = mapped_column(String(16), unique=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClubConsent(Base):
    """One consent of a customer (club terms, marketing by email, by SMS): given, withdrawn."""

    __tablename__ = "club_consents"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind"),
        CheckConstraint(one_of("kind", ConsentKind), name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class Receipt(Base):
    """A till sale recorded for a member: what was bought, at which price, in which store.

    ``number`` is the till's receipt number; recording it again changes nothing.
    """

    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    sold_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceiptLine(Base):
    """One product of a till receipt, at the price the member paid."""

    __tablename__ = "receipt_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_within"
        ),
        Index("ix_receipt_lines_receipt", "receipt_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    name: Mapped[str] = mapped_column(String(300))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(BigInteger)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)


class PointEntry(Base):
    """One change of a member's points, with why and where from; the balance is their sum.

    ``points`` is signed: earned and released/refunded add, held/spent and revoked take.
    A hold made at checkout is one ``held`` row that becomes ``spent`` when the order is
    collected or delivered; a cancellation or expiry adds a ``released`` row instead.
    """

    __tablename__ = "point_entries"
    __table_args__ = (
        CheckConstraint(one_of("kind", PointKind), name="known_kind"),
        Index("ix_point_entries_customer", "customer_id", "id"),
        Index("ix_point_entries_order", "order_id"),
        Index("ix_point_entries_receipt", "receipt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
