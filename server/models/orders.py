"""Orders: what a checkout turned a cart into, the stock it holds, and how its status moved."""

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
from server.states import (
    FulfilmentMethod,
    OrderChannel,
    OrderStatus,
    ReservationStatus,
    one_of,
)


class Order(Base):
    """A placed order: line snapshots, totals, where it is fulfilled and its current status.

    Its human number (``OC-26-000123-4``) is derived from id and year, see
    ``server.orders.numbers``.
    ``store_id`` is the store it was placed in (kiosk or staff), ``pickup_store_id`` the
    store it is collected at; ``location_id`` is the stock location its reservations hold.
    ``cart_token_hash`` is the token of the guest cart that placed it: it keeps reaching the
    order after the cart is closed. ``version`` counts changes, like a cart's.
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", OrderStatus), name="known_status"),
        CheckConstraint(one_of("fulfilment", FulfilmentMethod), name="known_fulfilment"),
        CheckConstraint(one_of("channel", OrderChannel), name="known_channel"),
        CheckConstraint(
            f"(fulfilment = '{FulfilmentMethod.CLICK_AND_COLLECT}' AND pickup_store_id IS NOT NULL)"
            f" OR (fulfilment = '{FulfilmentMethod.DELIVERY}' AND delivery_address IS NOT NULL)",
            name="fulfilment_target",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("cart_id", "idempotency_key"),
        Index("ix_orders_pickup_store_status", "pickup_store_id", "status", "id"),
        Index("ix_orders_store", "store_id", "id"),
        Index("ix_orders_customer", "customer_id", "id"),
        Index("ix_orders_status_deadline", "status", "pickup_deadline"),
        Index("ix_orders_cart_token", "cart_token_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PLACED)
    fulfilment: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    pickup_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    delivery_address: Mapped[str | None] = mapped_column(String(500))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    cart_token_hash: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # Click-and-collect only: uncollected after this, `omnicart expire-orders` expires it.
    pickup_deadline: Mapped[datetime | None] = mapped_column()
    # The shopper's language at checkout ('nb' or 'en'): what their messages are written in.
    language: Mapped[str] = mapped_column(String(2), default="nb", server_default="nb")
    # Where to tell the shopper about the order, when given at checkout (a guest's only way).
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderLine(Base):
    """One product of an order, as it was at checkout: barcode, name, price and quantity."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_within"
        ),
        Index("ix_order_lines_order", "order_id", "position"),
        Index("ix_order_lines_product", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # The cart line it came from (cart lines are deleted when a kiosk splits a cart).
    cart_line_id: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    name: Mapped[str] = mapped_column(String(300))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    regular_unit_price: Mapped[int] = mapped_column(BigInteger)
    campaign_name: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(BigInteger)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    # When the product first got a line in the cart (scan analytics: scan → cart line).
    added_to_cart_at: Mapped[datetime | None] = mapped_column()


class StockReservation(Base):
    """Units of one order line held at one stock location until collected, shipped or released.

    The sum of ``held`` reservations of a location and product always equals that stock
    level's ``reserved``: both change in the same transaction.
    """

    __tablename__ = "stock_reservations"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(one_of("status", ReservationStatus), name="known_status"),
        Index("ix_stock_reservations_order", "order_id"),
        Index("ix_stock_reservations_stock", "location_id", "product_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.HELD)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class OrderStatusChange(Base):
    """One step of an order's history: from which status to which, when, and by whom."""

    __tablename__ = "order_status_changes"
    __table_args__ = (Index("ix_order_status_changes_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    # customer, guest, kiosk, staff (a signed-in staff user), device (a staff device), system.
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)
