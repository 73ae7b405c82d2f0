"""Reading carts: plain snapshots of a cart and its lines, and who may reach which cart."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Cart, CartClaim, CartLine
from server.states import CartStatus
from server.viewer import Viewer


@dataclass(frozen=True, slots=True)
class LineView:
    """One line of a cart: which product and how many; prices are looked up when shown."""

    id: int
    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class CartView:
    """A cart as it stood at one version, detached from the database session."""

    id: int
    version: int
    customer_id: int | None
    updated_at: datetime
    lines: tuple[LineView, ...]

    @property
    def total_quantity(self) -> int:
        """Return the number of units in the cart."""
        return sum(line.quantity for line in self.lines)

    def to_snapshot(self) -> dict[str, Any]:
        """Return a JSON-able form, kept with an idempotency key to answer a retry."""
        return {
            "id": self.id,
            "version": self.version,
            "customer_id": self.customer_id,
            "updated_at": self.updated_at.isoformat(),
            "lines": [[line.id, line.product_id, line.quantity] for line in self.lines],
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> CartView:
        """Rebuild a view from ``to_snapshot`` output."""
        return cls(
            id=int(data["id"]),
            version=int(data["version"]),
            customer_id=data["customer_id"],
            updated_at=datetime.fromisoformat(data["updated_at"]),
            lines=tuple(LineView(int(i), int(p), int(q)) for i, p, q in data["lines"]),
        )


@dataclass(frozen=True, slots=True)
class CartChange:
    """The answer of a cart mutation: the cart after it, and whether it only replayed a retry."""

    cart: CartView
    replayed: bool = False


# The reach condition's bind parameters; ``reach_values`` gives them for one viewer.
REACH_TOKEN, REACH_CUSTOMER, REACH_DEVICE, REACH_NOW = (
    "reach_token",
    "reach_customer",
    "reach_device",
    "reach_now",
)
_CARTS = cast(Table, Cart.__table__)
_CLAIMS = cast(Table, CartClaim.__table__)
_LINES = cast(Table, CartLine.__table__)


def reach_shape(viewer: Viewer) -> tuple[bool, bool, bool]:
    """Return which ways to a cart the viewer carries: a cart token, a customer, a device."""
    return (
        viewer.cart_token_hash is not None,
        viewer.customer_id is not None,
        viewer.device is not None,
    )


@functools.cache
def reach_condition(token: bool, customer: bool, device: bool) -> ColumnElement[bool]:
    """Return ``reachable_by``'s condition for one shape of viewer (``reach_shape``), built once.

    The viewer's values are left as bind parameters, given at execution (``reach_values``).
    """
    return _reach((token, customer, device), {})


def reach_values(viewer: Viewer, now: datetime) -> dict[str, Any]:
    """Return the values of ``reach_condition``'s bind parameters for this viewer."""
    values: dict[str, Any] = {}
    if viewer.cart_token_hash is not None:
        values[REACH_TOKEN] = viewer.cart_token_hash
    if viewer.customer_id is not None:
        values[REACH_CUSTOMER] = viewer.customer_id
    if viewer.device is not None:
        values[REACH_DEVICE] = viewer.device.id
        values[REACH_NOW] = now
    return values


def reachable_by(viewer: Viewer, now: datetime) -> ColumnElement[bool]:
    """Return the SQL condition for the active carts ``viewer`` may read and change.

    A cart token reaches its cart only while it is a guest cart (no customer); a customer
    reaches their own cart; a device reaches a cart it claimed with a handoff code until
    the claim expires. Closed and merged carts are reachable by nobody. Hot statements use
    ``reach_condition`` instead, the same rule with the values bound at execution.
    """
    return _reach(reach_shape(viewer), reach_values(viewer, now))


def _reach(shape: tuple[bool, bool, bool], values: dict[str, Any]) -> ColumnElement[bool]:
    """Return the reach condition of ``shape``, with ``values`` bound or (none) left to bind."""

    def bound(name: str, column: Any) -> Any:
        if name in values:
            return bindparam(name, values[name], type_=column.type, unique=True)
        return bindparam(name, type_=column.type)

    token, customer, device = shape
    c = _CARTS.c
    ways: list[ColumnElement[bool]] = []
    if token:
        ways.append(and_(c.token_hash == bound(REACH_TOKEN, c.token_hash), c.customer_id.is_(None)))
    if customer:
        ways.append(c.customer_id == bound(REACH_CUSTOMER, c.customer_id))
    if device:
        claim = _CLAIMS.c
        ways.append(
            exists().where(
                claim.cart_id == c.id,
                claim.device_id == bound(REACH_DEVICE, claim.device_id),
                claim.expires_at > bound(REACH_NOW, claim.expires_at),
            )
        )
    if not ways:
        return false()
    return and_(c.status == CartStatus.ACTIVE, or_(*ways))


def visible_customer(viewer: Viewer, cart: CartView) -> int | None:
    """Return the id of the cart's customer if ``viewer`` may see who it is, else None.

    The customer sees themselves, and so does a kiosk or staff device the cart was handed
    to (only a device with a claim reaches someone's cart); a guest cart has nobody to show.
    """
    if cart.customer_id is None:
        return None
    if viewer.customer_id == cart.customer_id or viewer.device is not None:
        return cart.customer_id
    return None


_CART_ROW = select(_CARTS.c.id, _CARTS.c.version, _CARTS.c.customer_id, _CARTS.c.updated_at)
_CART_BY_ID = _CART_ROW.where(_CARTS.c.id == bindparam("cart"))
_LINES_OF = (
    select(_LINES.c.id, _LINES.c.product_id, _LINES.c.quantity)
    .where(_LINES.c.cart_id == bindparam("cart"))
    .order_by(_LINES.c.id)
)


@functools.cache
def _reachable_cart(shape: tuple[bool, bool, bool]) -> Select[Any]:
    return _CART_BY_ID.where(reach_condition(*shape))


async def lines_of(session: AsyncSession, cart_id: int) -> tuple[LineView, ...]:
    """Return a cart's lines in the order they were first added."""
    rows = await session.execute(_LINES_OF, {"cart": cart_id})
    return tuple(LineView(i, p, q) for i, p, q in rows)


async def load_view(session: AsyncSession, cart_id: int) -> CartView | None:
    """Return the current state of a cart whatever its status, or None when there is none."""
    row = (await session.execute(_CART_BY_ID, {"cart": cart_id})).one_or_none()
    if row is None:
        return None
    return CartView(
        row.id, row.version, row.customer_id, row.updated_at, await lines_of(session, row.id)
    )


async def cart_for_viewer(
    session: AsyncSession, viewer: Viewer, cart_id: int, now: datetime
) -> CartView | None:
    """Return the cart if ``viewer`` may see it; None when it is missing and when not theirs."""
    stmt = _reachable_cart(reach_shape(viewer))
    row = (
        await session.execute(stmt, {"cart": cart_id, **reach_values(viewer, now)})
    ).one_or_none()
    if row is None:
        return None
    return CartView(
        row.id, row.version, row.customer_id, row.updated_at, await lines_of(session, row.id)
    )


async def active_carts_of(
    session: AsyncSession, customer_ids: Iterable[int]
) -> dict[int, CartView]:
    """Return the active cart of each customer who has one, in two queries for any number."""
    wanted = set(customer_ids)
    if not wanted:
        return {}
    carts = (
        await session.execute(
            select(Cart.id, Cart.version, Cart.customer_id, Cart.updated_at).where(
                Cart.customer_id.in_(wanted), Cart.status == CartStatus.ACTIVE
            )
        )
    ).all()
    lines: dict[int, list[LineView]] = defaultdict(list)
    if carts:
        rows = await session.execute(
            select(CartLine.cart_id, CartLine.id, CartLine.product_id, CartLine.quantity)
            .where(CartLine.cart_id.in_([cart.id for cart in carts]))
            .order_by(CartLine.cart_id, CartLine.id)
        )
        for cart_id, line_id, product_id, quantity in rows:
            lines[cart_id].append(LineView(line_id, product_id, quantity))
    return {
        cart.customer_id: CartView(
            cart.id, cart.version, cart.customer_id, cart.updated_at, tuple(lines[cart.id])
        )
        for cart in carts
    }


_ACTIVE_CART_OF = select(_CARTS.c.id).where(
    _CARTS.c.customer_id == bindparam("customer"), _CARTS.c.status == CartStatus.ACTIVE
)


async def active_cart_of(session: AsyncSession, customer_id: int) -> CartView | None:
    """Return a customer's active cart, or None when they have none yet."""
    values = {"customer": customer_id}
    cart_id = (await session.execute(_ACTIVE_CART_OF, values)).scalar_one_or_none()
    return None if cart_id is None else await load_view(session, cart_id)
