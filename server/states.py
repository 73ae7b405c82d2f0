"""Every state a cart, an order, its fulfilment and its stock can be in: one ``StrEnum`` each.

The values are what the database stores; the CHECK constraints of the models are built
from them (``one_of``), the services compare against them, and the GraphQL enums are
these same classes (``schema/``), so a state is spelled in exactly one place. A member is
a ``str``: it compares equal to the stored text and binds as it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CartStatus(StrEnum):
    """Whether a cart can still change: ``active``; ``merged`` into a customer's; ``closed``."""

    ACTIVE = "active"
    MERGED = "merged"
    CLOSED = "closed"


class OrderStatus(StrEnum):
    """Where an order is in its life (the moves are in ``server.orders.lifecycle``)."""

    PLACED = "placed"
    READY_FOR_PICKUP = "ready_for_pickup"
    COLLECTED = "collected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RETURNED = "returned"


class FulfilmentMethod(StrEnum):
    """How an order reaches the shopper: collected in a store, or delivered."""

    CLICK_AND_COLLECT = "click_and_collect"
    DELIVERY = "delivery"


class OrderChannel(StrEnum):
    """Where an order was placed: a shopper's browser or app, a kiosk, a staff device."""

    WEB = "web"
    APP = "app"
    KIOSK = "kiosk"
    STAFF = "staff"


class ReservationStatus(StrEnum):
    """A stock reservation: ``held`` until collected or shipped (``consumed``) or ``released``."""

    HELD = "held"
    CONSUMED = "consumed"
    RELEASED = "released"


class FulfilmentOption(StrEnum):
    """The best way to get a cart line, seen from one store (``server.orders.options``)."""

    SHELF_HERE = "SHELF_HERE"
    COLLECT_HERE = "COLLECT_HERE"
    COLLECT_ELSEWHERE = "COLLECT_ELSEWHERE"
    DELIVERY = "DELIVERY"
    UNAVAILABLE = "UNAVAILABLE"


class StockStatus(StrEnum):
    """How much of a product is left, as shoppers see it (``server.catalog.stock_status``)."""

    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"


class StockMovementKind(StrEnum):
    """What moved stock at a location (``server.stock``): the GraphQL ``StockMovementKind``."""

    SALE = "SALE"
    RETURN = "RETURN"
    RECEIPT = "RECEIPT"
    COUNT = "COUNT"
    ADJUSTMENT = "ADJUSTMENT"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"


class MovementSource(StrEnum):
    """Who wrote a stock ledger row: a device, a feed file, an order, the catalog import, the
    check, or the opening balance."""

    DEVICE = "DEVICE"
    FILE = "FILE"
    ORDER = "ORDER"
    CATALOG = "CATALOG"
    CHECK = "CHECK"
    OPENING = "OPENING"


class ConsentKind(StrEnum):
    """What a club member consents to, each recorded apart (``server.club.membership``)."""

    CLUB_TERMS = "club_terms"
    MARKETING_EMAIL = "marketing_email"
    MARKETING_SMS = "marketing_sms"


class PointKind(StrEnum):
    """Why a member's points changed (``server.club.points``): one ledger row each."""

    EARNED = "earned"
    HELD = "held"
    SPENT = "spent"
    RELEASED = "released"
    REVOKED = "revoked"
    REFUNDED = "refunded"


def one_of(column: str, values: Iterable[StrEnum]) -> str:
    """Return the SQL of a CHECK that ``column`` holds one of ``values``: ``c IN ('a', 'b')``."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
