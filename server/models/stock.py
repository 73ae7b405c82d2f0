"""The stock ledger: every change of on hand at a location, one row each, in its transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow
from server.states import MovementSource, StockMovementKind, one_of


class StockMovement(Base):
    """One stock movement at a location and what it did to on hand.

    Movements from devices and feeds carry the client's ``movement_id`` (unique across the
    chain: it makes a retry apply once); rows the system writes itself (the opening balance
    of a location's history, order pick-ups and returns, the check's repairs) have none.
    ``applied`` is the change of on hand the movement made (a sale never takes on hand below
    zero or into reservations, a late count applies as of its time), so the ``applied`` of a
    location's rows add up to its on hand; ``unknown_units`` and ``reserved_units`` are
    what a sale asked for beyond that.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(one_of("kind", StockMovementKind), name="known_kind"),
        CheckConstraint(one_of("source", MovementSource), name="known_source"),
        Index("ix_stock_movements_history", "location_id", "product_id", "occurred_at"),
        Index("ix_stock_movements_transfer", "transfer_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    movement_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    transfer_id: Mapped[str | None] = mapped_column(String(100))
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    applied: Mapped[int] = mapped_column(Integer)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    unknown_units: Mapped[int] = mapped_column(Integer, default=0)
    reserved_units: Mapped[int] = mapped_column(Integer, default=0)
