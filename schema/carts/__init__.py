"""Carts over GraphQL: the cart types, queries, mutations, handoff and live updates."""

from __future__ import annotations

from schema.carts.handoff import HandoffMutation
from schema.carts.mutations import CartMutation
from schema.carts.queries import CartQuery
from schema.carts.subscriptions import CartSubscription
from schema.carts.types import LINE_QUANTITY_SCALAR, Cart, CartLine, LineQuantity

__all__ = [
    "LINE_QUANTITY_SCALAR",
    "Cart",
    "CartLine",
    "CartMutation",
    "CartQuery",
    "CartSubscription",
    "HandoffMutation",
    "LineQuantity",
]
