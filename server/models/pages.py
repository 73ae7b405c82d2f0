"""The product-page read model: one row per active product, kept current from the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class ProductPage(Base):
    """What a scan answers about a product, ready to serve (see ``server.product_pages``).

    ``document`` is JSON text: the product's own fields, its barcodes, its regular price and
    every campaign offer not yet over (windows are evaluated when the page is read). Stock
    is not in it: the page read joins the live stock rows.
    """

    __tablename__ = "product_pages"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(Text)
    # When the state it was built from was read: a build from an older read never replaces it.
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
