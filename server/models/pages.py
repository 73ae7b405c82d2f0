"""The product-page read model: one row per active product, kept current from the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
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
    # The stock filters the search engine last got for the product (``server.indexing``), as
    # JSON; a stock change that flips none of them sends nothing. None: not known, send.
    search_stock: Mapped[str | None] = mapped_column(Text, default=None)


class ProductAlternative(Base):
    """One candidate alternative of a product, in the order of the stock-free rules.

    Written by the indexer with the pages (``server.alternatives``): ``position`` orders a
    product's candidates by category tier, similarity, price distance and id
    (``search.alternatives.ranked_candidates``); a read orders them by live stock on top.
    """

    __tablename__ = "product_alternatives"
    __table_args__ = (Index("ix_product_alternatives_candidate_id", "candidate_id"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    tier: Mapped[int] = mapped_column()  # 0: the product's own category, 1: its parent
