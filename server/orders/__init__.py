"""Orders: checkout with click-and-collect or delivery, stock reservations, the lifecycle.

Checkout
--------
``checkout`` takes a cart at the ``expectedVersion`` the shopper saw (a stale version is
``VERSION_CONFLICT`` with the current cart, like every cart change) and turns it, or the
lines named in ``lineIds``, into one order: line snapshots (product, barcode, name, unit
price in force at that moment with its campaign, quantity, line total) and totals.

* **Fulfilment.** ``clickAndCollect {storeId}`` reserves at that store's stock location;
  ``delivery {address}`` at the online warehouse. There is no delivery fee: total =
  subtotal.
* **Reservation** is all or nothing: per product, in product id order, one conditional
  ``UPDATE stock_levels SET reserved = reserved + q WHERE … AND on_hand - reserved >= q``
  (lines of one product are summed and judged together), and one reservation row per
  order line and location. If any product falls short nothing is kept and the answer is
  ``INSUFFICIENT_STOCK`` naming every short line and what is available (in the message
  and as ``unavailableLines``); a product no longer sold counts as none available.
* **The cart afterwards.** Ordering every line closes the cart (its handoff codes and
  device claims end) and a customer gets a fresh, empty cart; a guest's cart token now
  reaches only the order. Ordering some lines (a kiosk's split) takes them out of the cart,
  which stays open with the rest at version + 1.
* **Channel and store.** A kiosk's order has channel ``kiosk`` and the kiosk's store, a
  staff device's ``staff`` and its store; phones and browsers say ``web`` (default) or
  ``app`` and have no store.
* **Retries.** An ``idempotencyKey`` is kept with the order (per cart, for good): the same
  request again answers the order already placed (``replayed``), even after the cart
  closed; the same key with another request is ``IDEMPOTENCY_KEY_REUSED``.
* **Who sees an order.** Its customer; for a guest order the holder of the token of the
  cart that placed it; staff as ``server.staff`` says. Anyone else: "no such order".

Numbers, the lifecycle and expiry are in ``numbers``, ``lifecycle`` and
``Settings.order_pickup_days``.
"""

from __future__ import annotations

from server.orders.access import may_see, shopper_placed, staff_may_see
from server.orders.checkout import checkout
from server.orders.lifecycle import (
    Action,
    Expired,
    ReturnLine,
    expire_overdue,
    take_return,
    transition,
)
from server.orders.numbers import normalise_order_number, order_number
from server.orders.options import LineOptions, line_options
from server.orders.queries import (
    customer_orders,
    order_by_number_for_viewer,
    order_for_viewer,
    shopper_orders,
    store_orders,
)
from server.orders.requests import (
    CheckoutRequest,
    CheckoutResult,
    ClickAndCollect,
    Delivery,
    Fulfilment,
    UnavailableLine,
)
from server.orders.views import (
    OrderedLine,
    OrderLineView,
    OrderPage,
    OrderView,
    StatusChangeView,
    history_by_order,
    lines_by_order,
    load_order,
    ordered_from_cart,
    orders_by_ids,
)

__all__ = [
    "Action",
    "CheckoutRequest",
    "CheckoutResult",
    "ClickAndCollect",
    "Delivery",
    "Expired",
    "Fulfilment",
    "LineOptions",
    "OrderLineView",
    "OrderedLine",
    "OrderPage",
    "OrderView",
    "ReturnLine",
    "StatusChangeView",
    "UnavailableLine",
    "checkout",
    "customer_orders",
    "expire_overdue",
    "history_by_order",
    "line_options",
    "lines_by_order",
    "load_order",
    "may_see",
    "normalise_order_number",
    "order_by_number_for_viewer",
    "order_for_viewer",
    "order_number",
    "ordered_from_cart",
    "orders_by_ids",
    "shopper_orders",
    "shopper_placed",
    "staff_may_see",
    "store_orders",
    "take_return",
    "transition",
]
