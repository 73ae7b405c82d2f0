"""Scan events: which product was scanned where, when, and from what kind of device."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class ScanEvent(Base):
    """One barcode scan by a shopper, kiosk or staff device."""

    __tablename__ = "scan_events"
    __table_args__ = (
        Index("ix_scan_events_store_time", "store_id", "scanned_at"),
        Index("ix_scan_events_product_time", "product_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    gtin: Mapped[str | None] = mapped_column(String(14))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    device_kind: Mapped[str] = mapped_column(String(16))
    cart_id: Mapped[int | None] = mapped_column()
    customer_id: Mapped[int | None] = mapped_column()
    # Whether the product was available in the scanning store at that moment (missed demand).
    available_here: Mapped[bool | None] = mapped_column(Boolean)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
