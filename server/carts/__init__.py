"""Carts: one cart that follows the shopper across phone, desktop and kiosk.

Rules
-----
**Reaching a cart.** A guest cart is reached with its secret cart token (``X-Cart-Token``,
``ct_…``, 256 random bits, only its SHA-256 is stored). A customer's cart is reached with
the customer's session; a customer has at most one active cart (a partial unique index
holds it). A kiosk or staff device reaches a cart only through a handoff claim, for
``claim_minutes``. A cart someone may not reach answers exactly like a missing one.

**Lines and prices.** Lines name a product by barcode (any printed form) or product id;
the same product twice is one line with the quantities added. A line holds 1 to
``max_line_quantity`` (99) units: 0, negative and larger numbers are ``INVALID_QUANTITY``
(an add that would take a line past the limit too: the lines of one product in a request
add up, on a new line as on an existing one, and the one that passes the limit is named).
Prices are never stored in the cart: they are read from the catalog when the cart is shown
(the campaign price in force), so every channel shows the same price. Stock is not reserved
by a cart; it is checked at checkout.

**Whose cart.** A cart shows its customer to that customer and to a kiosk or staff device
the cart was handed to; to everyone else (a guest cart's token holder included) nobody.

**Versions and retries.** Every change bumps ``version`` by exactly one. A change's first
statement is ``UPDATE carts SET version = version + 1 … WHERE id = … AND <caller may
reach it> [AND version = expectedVersion] RETURNING version``: it takes the row lock on
PostgreSQL (SQLite's write lock is taken at ``BEGIN IMMEDIATE``), so concurrent writers
queue and nothing is lost. A stale ``expectedVersion`` answers ``VERSION_CONFLICT`` with
the current cart and changes nothing. An ``idempotencyKey`` (per cart and operation, kept
a day) makes a retry answer the first result (``replayed: true``) without changing
anything; the same key with another request is ``IDEMPOTENCY_KEY_REUSED``. Cart mutations
and checkout share these steps: ``server.carts.versioning``.

**Signing in with a guest cart** (``customerSignIn``/``customerSignUp`` with ``cartId``
and the cart token proving the caller holds it):

* the customer has no active cart → the guest cart becomes theirs (same id, version + 1);
* the customer has one → the guest lines move into it: the same product adds up,
  capped at ``max_line_quantity``; other products become new lines after the existing
  ones. The guest cart is closed (``merged``), its token, live handoff codes and device
  claims stop working (``NOT_FOUND``), and both carts' versions move;
* either way the cart token stops working: the cart is reached with the session now;
* repeating the same sign-in finds the work done and changes nothing; a cart id the
  caller cannot prove (no or wrong token, another customer's cart, a closed cart) fails
  the whole sign-in with ``NOT_FOUND`` on ``cartId``.

The customer's row, then both carts in id order, are locked for the merge, so devices
signing in at once neither lose nor duplicate a line. A kiosk never merges: it works on
a shopper's cart only after a handoff, and the shopper keeps the cart.

**Handoff codes.** 8 characters from ``23456789ABCDEFGHJKMNPQRSTVWXYZ`` (Crockford's
base32 without 0 and 1, so nothing reads as O, I or L; about 39 bits), shown as
``K7QM-3XPA``, typed in any case with or without the dash. Single-use, valid for
``handoff_minutes`` (10), at most one live code per cart, stored as an HMAC under the
server's secret key. Only the cart's holder (token or customer) may issue one; only a
kiosk or staff device may claim one. Wrong, expired and used codes all answer
``CODE_EXPIRED`` and count against the device and the client address
(``auth_failure_limit`` per ``auth_failure_window_minutes``, 10 per 10 minutes, in the
database so all workers share it); beyond that ``RATE_LIMITED``. A kiosk's new claim ends
its earlier ones.
"""

from __future__ import annotations

from server.carts.adding import AddLine
from server.carts.handoff import (
    HandoffCode,
    HandoffStatus,
    claim_handoff,
    create_handoff,
    handoff_status,
    handoff_topic,
    live_handoff_code,
)
from server.carts.merge import Attached, attach_guest_cart
from server.carts.service import (
    NewCart,
    SetLine,
    WriteOptions,
    add_lines,
    check_quantity,
    create_cart,
    remove_lines,
    update_lines,
)
from server.carts.views import (
    CartChange,
    CartView,
    LineView,
    active_cart_of,
    active_carts_of,
    cart_for_viewer,
    load_view,
    visible_customer,
)

__all__ = [
    "AddLine",
    "Attached",
    "CartChange",
    "CartView",
    "HandoffCode",
    "HandoffStatus",
    "LineView",
    "NewCart",
    "SetLine",
    "WriteOptions",
    "active_cart_of",
    "active_carts_of",
    "add_lines",
    "attach_guest_cart",
    "cart_for_viewer",
    "check_quantity",
    "claim_handoff",
    "create_cart",
    "create_handoff",
    "handoff_status",
    "handoff_topic",
    "live_handoff_code",
    "load_view",
    "remove_lines",
    "update_lines",
    "visible_customer",
]
