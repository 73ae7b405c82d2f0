"""Checkout requests and results: what is asked for, how it is checked, what comes back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.carts import CartView
from server.errors import InsufficientStock, InvalidInput, NotFound, PermissionDenied
from server.notifications.contact import Contact
from server.notifications.language import DEFAULT_LANGUAGE
from server.orders.stock import Shortfall
from server.orders.views import OrderLineView, OrderView
from server.states import OrderChannel
from server.viewer import INTEGRATION_KINDS, Viewer

MAX_ADDRESS = 500
MAX_LINE_IDS = 100
SHOPPER_CHANNELS = (OrderChannel.WEB, OrderChannel.APP)


@dataclass(frozen=True, slots=True)
class ClickAndCollect:
    """Collect in a store: the units are reserved at that store's stock location."""

    store_id: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """Deliver to an address: the units are reserved at the online warehouse."""

    address: str


Fulfilment = ClickAndCollect | Delivery


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What the shopper (or the kiosk for them) asks to order."""

    cart_id: int
    expected_version: int
    fulfilment: Fulfilment
    # A subset of the cart's lines to order (a kiosk's split); None orders the whole cart.
    line_ids: tuple[int, ...] | None = None
    # web or app, as the client says; kiosks and staff devices are known by their token.
    channel: str | None = None
    idempotency_key: str | None = None
    # Where to tell the shopper about the order (checked; the account's when left out).
    contact: Contact = Contact()
    # The shopper's language ('nb' or 'en'), from the request's Accept-Language.
    language: str = DEFAULT_LANGUAGE
    # Club points paying part of the order (``server.club.points``); 0 pays none.
    use_points: int = 0


@dataclass(frozen=True, slots=True)
class UnavailableLine:
    """A cart line that cannot be had where it was asked for, and how much can."""

    line_id: int
    product_id: int
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    """The order, the cart the shopper goes on with, and the carts whose version moved."""

    order: OrderView
    lines: tuple[OrderLineView, ...]
    # The customer's fresh cart, or the cart with the lines a split left behind; None for
    # a guest whose whole cart became the order.
    cart: CartView | None
    changed_carts: tuple[CartView, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class CartLineSnapshot:
    """A cart line as checkout reads it, with when the product first got a line."""

    id: int
    product_id: int
    quantity: int
    created_at: datetime


def choose_lines(
    every: Sequence[CartLineSnapshot], line_ids: tuple[int, ...] | None
) -> list[CartLineSnapshot]:
    """Return the lines to order: all, or those named (each must be in the cart)."""
    if line_ids is None:
        chosen = list(every)
    else:
        by_id = {line.id: line for line in every}
        for i, line_id in enumerate(line_ids):
            if line_id not in by_id:
                raise NotFound("The cart has no such line.", field=f"lineIds[{i}]")
        wanted = set(line_ids)
        chosen = [line for line in every if line.id in wanted]
    if not chosen:
        raise InvalidInput("The cart is empty: there is nothing to order.", field="cartId")
    return chosen


def insufficient(
    chosen: Sequence[CartLineSnapshot],
    shortfalls: Sequence[Shortfall],
    products: dict[int, Any],
    where: str,
) -> InsufficientStock:
    """Name every line that cannot be had (lines of one product are judged together)."""
    short = {s.product_id: s for s in shortfalls}
    unavailable = [
        UnavailableLine(line.id, line.product_id, line.quantity, short[line.product_id].available)
        for line in chosen
        if line.product_id in short
    ]
    parts = [
        f"{products[u.product_id].name}: {u.requested} asked, {u.available} available"
        for u in unavailable
    ]
    shortages = "; ".join(parts)
    return InsufficientStock(f"Not enough stock at {where}. {shortages}.", details=unavailable)


def checked_fulfilment(fulfilment: Fulfilment) -> Fulfilment:
    """Return the fulfilment with a tidied address, or raise InvalidInput."""
    if isinstance(fulfilment, Delivery):
        address = " ".join(fulfilment.address.split())
        if not address or len(address) > MAX_ADDRESS:
            raise InvalidInput(
                f"A delivery address has 1 to {MAX_ADDRESS} characters.",
                field="fulfilment.delivery.address",
            )
        return Delivery(address)
    return fulfilment


def channel_of(viewer: Viewer, asked: str | None) -> OrderChannel:
    """Return the order's channel: the device's kind, else what the shopper's client says.

    Tills and warehouse systems (``pos``, ``warehouse``) record stock; they place no orders.
    """
    if viewer.device is not None:
        if viewer.device.kind in INTEGRATION_KINDS:
            raise PermissionDenied("Tills and warehouse systems do not place orders.")
        return OrderChannel(viewer.device.kind)
    if asked is None:
        return OrderChannel.WEB
    if asked not in SHOPPER_CHANNELS:
        raise InvalidInput(
            "Only kiosks and staff devices place kiosk and staff orders.", field="channel"
        )
    return OrderChannel(asked)


def check_line_ids(line_ids: tuple[int, ...] | None) -> None:
    """Raise InvalidInput for an empty, too long or repeating list of line ids."""
    if line_ids is None:
        return
    if not line_ids:
        raise InvalidInput("Name at least one line, or leave lineIds out.", field="lineIds")
    if len(line_ids) > MAX_LINE_IDS:
        raise InvalidInput(f"Name at most {MAX_LINE_IDS} lines.", field="lineIds")
    seen: set[int] = set()
    for i, line_id in enumerate(line_ids):
        if line_id in seen:
            raise InvalidInput("The same line is named twice.", field=f"lineIds[{i}]")
        seen.add(line_id)


def actor_of(viewer: Viewer) -> tuple[str, int | None]:
    """Return how the order's history names who placed it: kiosk, device, customer, guest."""
    if viewer.device is not None:
        return ("kiosk" if viewer.device.kind == "kiosk" else "device"), viewer.device.id
    if viewer.customer_id is not None:
        return "customer", viewer.customer_id
    return "guest", None


def canonical(request: CheckoutRequest) -> dict[str, Any]:
    """Return the request's canonical form, fingerprinted with its idempotency key."""
    f = request.fulfilment
    target: list[Any] = (
        ["collect", f.store_id] if isinstance(f, ClickAndCollect) else ["delivery", f.address]
    )
    return {
        "cartId": request.cart_id,
        "expectedVersion": request.expected_version,
        "fulfilment": target,
        "lineIds": sorted(request.line_ids) if request.line_ids is not None else None,
        "channel": request.channel,
        "contact": [request.contact.email, request.contact.phone],
    } | ({"usePoints": request.use_points} if request.use_points else {})
