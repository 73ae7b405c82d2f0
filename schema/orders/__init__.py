"""Orders over GraphQL: checkout, order types and lists, staff actions and live updates."""

from __future__ import annotations

from schema.orders.actions import OrderActionMutation
from schema.orders.checkout import CheckoutMutation
from schema.orders.queries import OrderQuery
from schema.orders.subscriptions import OrderSubscription
from schema.orders.types import Order, OrderLine

__all__ = [
    "CheckoutMutation",
    "Order",
    "OrderActionMutation",
    "OrderLine",
    "OrderQuery",
    "OrderSubscription",
]
