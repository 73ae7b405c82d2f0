"""Changing carts: create, add, change and remove lines, each one locked, versioned write.

The lock, the version check and the idempotency replay are ``server.carts.versioning``'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, Update, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.carts.adding import (
    AddLine,
    parse_codes,
    past_limit,
    products_of,
    units_per_product,
)
from server.carts.versioning import (
    Guard,
    Locked,
    bump_statement,
    bump_with_lines,
    cart_lines_json,
    keep_outcome,
    kept_outcome,
    lines_from_json,
    run_bump,
    run_versioned,
)
from server.carts.views import CartChange, CartView, LineView, active_cart_of, reach_shape
from server.db import per_dialect, rows_of, upsert
from server.errors import InvalidInput, InvalidQuantity, NotFound
from server.models import Cart, CartLine, Customer
from server.states import CartStatus
from server.tokens import CART_PREFIX, new_token, token_hash
from server.viewer import Viewer

MAX_LINES_PER_REQUEST = 100
_CARTS = cast(Table, Cart.__table__)
_LINES = cast(Table, CartLine.__table__)
_CUSTOMERS = cast(Table, Customer.__table__)
# Executed with many {"line": id, "qty": n} parameter sets at once.
SET_LINE_QUANTITY = (
    update(_LINES).where(_LINES.c.id == bindparam("line")).values(quantity=bindparam("qty"))
)
_REMOVE_LINES = (
    delete(_LINES)
    .where(
        _LINES.c.cart_id == bindparam("cart"), _LINES.c.id.in_(bindparam("lines", expanding=True))
    )
    .returning(_LINES.c.id)
)
_LOCK_CUSTOMER = (
    select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.id == bindparam("customer")).with_for_update()
)
_NEW_CART = (
    insert(_CARTS)
    .values(
        token_hash=bindparam("token_hash"),
        customer_id=bindparam("customer"),
        status=CartStatus.ACTIVE,
        version=1,
        created_at=bindparam("now", type_=_CARTS.c.created_at.type),
        updated_at=bindparam("now", type_=_CARTS.c.updated_at.type),
    )
    .returning(_CARTS.c.id)
)


@per_dialect
def _add_units(session: AsyncSession) -> Insert:
    """Return the upsert of one product's units, run with one parameter set per product.

    A line only grows while it stays within ``most``, and RETURNING names the lines that
    did; a product missing from it would pass the limit. Many parameter sets still make one
    statement (SQLAlchemy's multi-row "insertmanyvalues").
    """
    upserted = upsert(session, _LINES).values(
        cart_id=bindparam("cart"),
        product_id=bindparam("product"),
        quantity=bindparam("units"),
        created_at=bindparam("now", type_=_LINES.c.created_at.type),
    )
    grown = _LINES.c.quantity + upserted.excluded.quantity
    return upserted.on_conflict_do_update(
        index_elements=[_LINES.c.cart_id, _LINES.c.product_id],
        set_={"quantity": grown},
        where=grown <= bindparam("most"),
    ).returning(_LINES.c.id, _LINES.c.product_id, _LINES.c.quantity)


async def _grow(session: AsyncSession, rows: list[dict[str, Any]]) -> Iterable[Any]:
    """Run ``_add_units`` for ``rows``; return (line id, product id, quantity) of those grown.

    One product, the usual add, runs straight on the driver on PostgreSQL (``rows_of``);
    several go through the session, as one multi-row statement.
    """
    if len(rows) == 1:
        return await rows_of(session, _add_units(session), rows[0])
    return await session.execute(_add_units(session), rows)  # type: ignore[no-any-return]


@per_dialect
def _bump_for_add(session: AsyncSession, shape: tuple[bool, bool, bool], expected: bool) -> Update:
    """Return an add's version bump, returning the cart's lines and the request's products."""
    returning = [cart_lines_json(session), catalog.cart_products_json(session)]
    return bump_statement(shape, expected, returning=returning)


@dataclass(frozen=True, slots=True)
class SetLine:
    """The new quantity of an existing line."""

    line_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Optimistic and retry guards a client may send with any cart mutation."""

    expected_version: int | None = None
    idempotency_key: str | None = None

    def guard(
        self, viewer: Viewer, cart_id: int, now: datetime, operation: str, request: Any
    ) -> Guard:
        """Return the guard of one cart mutation sent with these options."""
        return Guard.of(
            viewer,
            cart_id,
            now,
            operation=operation,
            request={"request": request, "expectedVersion": self.expected_version},
            expected_version=self.expected_version,
            key=self.idempotency_key,
        )


@dataclass(frozen=True, slots=True)
class NewCart:
    """A created (or, for a customer, the existing) cart and the token that reaches it."""

    cart: CartView
    token: str | None


@dataclass(frozen=True, slots=True)
class CartWrite:
    """One cart mutation as ``run_versioned`` takes it: the guard and the change to make.

    ``change`` runs while the cart is locked at its new version: it gets the lines as the
    version bump's RETURNING found them (and, for an add, the products it names: the bump
    looks them up with ``products``, the values of ``catalog.cart_products_values``) and
    returns them as its own statements' RETURNING leaves them, so the outcome (the cart
    after it, kept under the idempotency key when there is one; the payload and the live
    event) needs no read of the cart afterwards.
    """

    guard: Guard
    change: Callable[[tuple[LineView, ...], Any], Awaitable[tuple[LineView, ...]]]
    products: dict[str, str] | None = None

    async def lock(self, session: AsyncSession) -> Locked | None:
        """Bump the cart's version (the first statement of every cart change), with its lines."""
        g = self.guard
        if self.products is None:
            return await bump_with_lines(session, g)
        stmt = _bump_for_add(session, reach_shape(g.viewer), g.expected_version is not None)
        return await run_bump(session, g, stmt, self.products)

    async def kept(self, session: AsyncSession) -> CartChange | None:
        """Return the cart the key already answered with, marked replayed."""
        earlier = await kept_outcome(session, self.guard)
        return None if earlier is None else CartChange(earlier, replayed=True)

    async def retried(self, session: AsyncSession, current: CartView | None) -> CartChange | None:
        """Replay a retry only to a caller who still reaches the cart."""
        return None if current is None else await self.kept(session)

    async def apply(self, session: AsyncSession, locked: Locked) -> CartChange:
        """Make the change and answer the cart as it now stands."""
        found = locked.extra[1] if self.products is not None else None
        lines = await self.change(lines_from_json(locked.extra[0]), found)
        g = self.guard
        cart = CartView(g.cart_id, locked.version, locked.customer_id, g.now, lines)
        if g.key is not None:
            await keep_outcome(session, g, cart)
        return CartChange(cart)


def check_quantity(quantity: int, max_quantity: int, field: str) -> None:
    """Raise InvalidQuantity unless ``quantity`` is a whole number from 1 to ``max_quantity``."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantity("A quantity is a whole number of units.", field=field)
    if not 1 <= quantity <= max_quantity:
        raise InvalidQuantity(
            f"A quantity is between 1 and {max_quantity}; got {quantity}.", field=field
        )


async def lock_customer(session: AsyncSession, customer_id: int) -> None:
    """Hold the customer's row until the transaction ends, so their cart operations queue."""
    await session.execute(_LOCK_CUSTOMER, {"customer": customer_id})


async def create_cart(
    session: AsyncSession,
    viewer: Viewer,
    now: datetime,
    *,
    lines: Sequence[AddLine] = (),
    max_quantity: int = 99,
) -> tuple[NewCart, CartChange | None]:
    """Create a guest cart with a fresh token; a signed-in customer gets their one active cart.

    Returns the cart (before ``lines``) and, when lines were given, the change adding them.
    """
    if viewer.customer_id is not None:
        await lock_customer(session, viewer.customer_id)
        existing = await active_cart_of(session, viewer.customer_id)
        if existing is not None:
            created = NewCart(existing, None)
        else:
            cart_id = await _new_cart(session, now, customer_id=viewer.customer_id)
            created = NewCart(CartView(cart_id, 1, viewer.customer_id, now, ()), None)
        holder = viewer
    else:
        token = new_token(CART_PREFIX)
        cart_id = await _new_cart(session, now, hashed_token=token_hash(token))
        created = NewCart(CartView(cart_id, 1, None, now, ()), token)
        holder = replace(viewer, cart_token_hash=token_hash(token))
    if not lines:
        return created, None
    change = await add_lines(
        session, holder, created.cart.id, lines, WriteOptions(), now, max_quantity=max_quantity
    )
    return created, change


async def _new_cart(
    session: AsyncSession,
    now: datetime,
    *,
    customer_id: int | None = None,
    hashed_token: str | None = None,
) -> int:
    """Insert an active cart at version 1 for a customer or a token's hash; return its id."""
    values = {"customer": customer_id, "token_hash": hashed_token, "now": now}
    return int((await session.execute(_NEW_CART, values)).scalar_one())


async def add_lines(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    lines: Sequence[AddLine],
    options: WriteOptions,
    now: datetime,
    *,
    max_quantity: int,
) -> CartChange:
    """Add units of products; a product already in the cart gets its quantity raised.

    Each resulting line must stay within ``max_quantity`` (InvalidQuantity otherwise).
    The products are looked up by the version bump itself, so a cart the caller does not
    reach (NOT_FOUND ``cartId``) or a stale ``expectedVersion`` (VERSION_CONFLICT) is the
    answer even when a barcode or product id is unknown too; a malformed barcode, a line
    naming both or neither, or a bad quantity is refused before any statement.
    """
    _check_count(lines, "lines")
    for i, line in enumerate(lines):
        check_quantity(line.quantity, max_quantity, f"lines[{i}].quantity")
    gtins = parse_codes(lines)
    ids = [line.product_id for line in lines if line.product_id is not None]
    request = [[line.gtin, line.product_id, line.quantity] for line in lines]

    async def apply(before: tuple[LineView, ...], found: Any) -> tuple[LineView, ...]:
        wanted = units_per_product(products_of(lines, gtins, found), lines)
        for entries in wanted.values():
            # Repeated lines of one product add up: refused before the line is written.
            if (error := past_limit(entries, 0, max_quantity)) is not None:
                raise error
        # One upsert for all products (``_add_units``): RETURNING names the lines that grew.
        rows = [
            {
                "cart": cart_id,
                "product": pid,
                "units": sum(units for _, units in entries),
                "now": now,
                "most": max_quantity,
            }
            for pid, entries in wanted.items()
        ]
        landed = {pid: LineView(i, pid, q) for i, pid, q in await _grow(session, rows)}
        held = {line.product_id: line.quantity for line in before}
        for pid, entries in wanted.items():
            if pid not in landed:
                had = held[pid]
                raise past_limit(entries, had, max_quantity) or InvalidQuantity(
                    f"At most {max_quantity} of one product fit in a cart; it holds {had}.",
                    field=f"lines[{entries[0][0]}].quantity",
                )
        kept = [line for line in before if line.product_id not in landed]
        return tuple(sorted([*kept, *landed.values()], key=lambda line: line.id))

    g = options.guard(viewer, cart_id, now, "cartLinesAdd", request)
    products = catalog.cart_products_values(gtins.values(), ids)
    return await run_versioned(session, CartWrite(g, apply, products))


async def update_lines(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    lines: Sequence[SetLine],
    options: WriteOptions,
    now: datetime,
    *,
    max_quantity: int,
) -> CartChange:
    """Set the quantity of existing lines (1 to ``max_quantity``; remove a line to drop it)."""
    _check_count(lines, "lines")
    for i, line in enumerate(lines):
        check_quantity(line.quantity, max_quantity, f"lines[{i}].quantity")
    _check_unique([line.line_id for line in lines], "lines", "lineId")
    request = [[line.line_id, line.quantity] for line in lines]

    async def apply(before: tuple[LineView, ...], _found: Any) -> tuple[LineView, ...]:
        # The bump's RETURNING listed the locked cart's lines: no read to check the ids.
        ids = [line.line_id for line in lines]
        _require_lines(ids, {line.id for line in before}, "lines[{i}].lineId")
        await session.execute(
            SET_LINE_QUANTITY, [{"line": line.line_id, "qty": line.quantity} for line in lines]
        )
        new = {line.line_id: line.quantity for line in lines}
        return tuple(replace(line, quantity=new.get(line.id, line.quantity)) for line in before)

    g = options.guard(viewer, cart_id, now, "cartLinesUpdate", request)
    return await run_versioned(session, CartWrite(g, apply))


async def remove_lines(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    line_ids: Sequence[int],
    options: WriteOptions,
    now: datetime,
) -> CartChange:
    """Remove lines from the cart; a line that is not (or no longer) there is NotFound."""
    _check_count(line_ids, "lineIds")
    _check_unique(line_ids, "lineIds", None)

    async def apply(before: tuple[LineView, ...], _found: Any) -> tuple[LineView, ...]:
        values = {"cart": cart_id, "lines": list(line_ids)}
        removed = set((await session.execute(_REMOVE_LINES, values)).scalars())
        _require_lines(line_ids, removed, "lineIds[{i}]")
        return tuple(line for line in before if line.id not in removed)

    request = sorted(line_ids)
    g = options.guard(viewer, cart_id, now, "cartLinesRemove", request)
    return await run_versioned(session, CartWrite(g, apply))


def _check_count(items: Sequence[object], field: str) -> None:
    if not items:
        raise InvalidInput("Give at least one line.", field=field)
    if len(items) > MAX_LINES_PER_REQUEST:
        raise InvalidInput(f"Give at most {MAX_LINES_PER_REQUEST} lines at once.", field=field)


def _check_unique(ids: Sequence[int], field: str, leaf: str | None) -> None:
    seen: set[int] = set()
    for i, line_id in enumerate(ids):
        if line_id in seen:
            where = f"{field}[{i}]" + (f".{leaf}" if leaf else "")
            raise InvalidInput("The same line is named twice.", field=where)
        seen.add(line_id)


def _require_lines(ids: Sequence[int], found: set[int], field: str) -> None:
    for i, line_id in enumerate(ids):
        if line_id not in found:
            raise NotFound("The cart has no such line.", field=field.format(i=i))
