"""Catalog rows: products and their barcodes, prices, campaigns, stores and stock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow


class Product(Base):
    """A sellable item; the same row serves every channel."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Category path, broad → specific, as human-readable labels.
    categories: Mapped[list[str]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quantity: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(16))
    net_amount: Mapped[float | None] = mapped_column()
    image_url: Mapped[str | None] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    barcodes: Mapped[list[ProductBarcode]] = relationship(
        back_populates="product", lazy="raise", cascade="all, delete-orphan"
    )


class ProductBarcode(Base):
    """One GTIN of a product, stored in its canonical 14-digit form."""

    __tablename__ = "product_barcodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    product: Mapped[Product] = relationship(back_populates="barcodes", lazy="raise")


class ProductBarcodeStore(Base):
    """A store where a product's own code (restricted circulation number) is that product.

    A barcode without rows here is the product in every store; with rows, only in those
    stores (``server.catalog.product_for_code`` has the rule).
    """

    __tablename__ = "product_barcode_stores"

    barcode_id: Mapped[int] = mapped_column(
        ForeignKey("product_barcodes.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Price(Base):
    """The regular price of a product in one currency, in integer minor units."""

    __tablename__ = "prices"
    __table_args__ = (
        UniqueConstraint("product_id", "currency"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)


class Campaign(Base):
    """A named offer that lowers some prices for a time window, in every channel alike."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    # A members' campaign lowers the price for club members only (``server.pricing``).
    members_only: Mapped[bool] = mapped_column(Boolean, default=False)


class CampaignPrice(Base):
    """A product's price while its campaign runs."""

    __tablename__ = "campaign_prices"
    __table_args__ = (
        UniqueConstraint("campaign_id", "product_id", "currency"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)

    campaign: Mapped[Campaign] = relationship(lazy="raise")


class Store(Base):
    """A physical store of the chain."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(100))


class StockLocation(Base):
    """Where stock is held: one per store, plus the online warehouse (no store)."""

    __tablename__ = "stock_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), unique=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)


class StockLevel(Base):
    """How much of a product a location holds and how much of it is promised to orders."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        Index("ix_stock_levels_product", "product_id"),
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StoreItemCode(Base):
    """Maps a store's in-store label item number (restricted-circulation code) to a product."""

    __tablename__ = "store_item_codes"
    __table_args__ = (UniqueConstraint("store_id", "item_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    item_number: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
