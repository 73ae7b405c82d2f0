"""Changing carts: create, add, change and remove lines, each one locked, versioned write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.carts import idempotency
from server.carts.views import (
    ACTIVE,
    CartChange,
    CartView,
    active_cart_of,
    cart_for_viewer,
    lines_of,
    reachable_by,
)
from server.errors import AppError, InvalidInput, InvalidQuantity, NotFound, VersionConflict
from server.gtin import Gtin, parse_gtin
from server.models import Cart, CartLine, Customer
from server.tokens import CART_PREFIX, new_token, token_hash
from server.viewer import Viewer

MAX_LINES_PER_REQUEST = 100
_LINES = cast(Table, CartLine.__table__)
# Executed with many {"line": id, "qty": n} parameter sets at once.
SET_LINE_QUANTITY = (
    update(_LINES).where(_LINES.c.id == bindparam("line")).values(quantity=bindparam("qty"))
)


@dataclass(frozen=True, slots=True)
class AddLine:
    """Units of a product to add, named by barcode (any printed form) or by product id."""

    quantity: int
    gtin: str | None = None
    product_id: int | None = None


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


@dataclass(frozen=True, slots=True)
class NewCart:
    """A created (or, for a customer, the existing) cart and the token that reaches it."""

    cart: CartView
    token: str | None


@dataclass(frozen=True, slots=True)
class _Locked:
    version: int
    customer_id: int | None


class _Replayed(Exception):
    """Unwinds a write whose idempotency key already has an outcome, undoing the lock's bump."""

    def __init__(self, cart: CartView) -> None:
        super().__init__("replayed")
        self.cart = cart


def _dialect_insert(session: AsyncSession) -> Callable[..., Any]:
    """Return the INSERT construct with ON CONFLICT of the session's database."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    await session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


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
            cart = Cart(
                customer_id=viewer.customer_id,
                status=ACTIVE,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(cart)
            await session.flush()
            created = NewCart(CartView(cart.id, 1, viewer.customer_id, now, ()), None)
        holder = viewer
    else:
        token = new_token(CART_PREFIX)
        cart = Cart(
            token_hash=token_hash(token), status=ACTIVE, version=1, created_at=now, updated_at=now
        )
        session.add(cart)
        await session.flush()
        created = NewCart(CartView(cart.id, 1, None, now, ()), token)
        holder = replace(viewer, cart_token_hash=token_hash(token))
    if not lines:
        return created, None
    change = await add_lines(
        session, holder, created.cart.id, lines, WriteOptions(), now, max_quantity=max_quantity
    )
    return created, change


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
    """
    _check_count(lines, "lines")
    for i, line in enumerate(lines):
        check_quantity(line.quantity, max_quantity, f"lines[{i}].quantity")
    wanted = _units_per_product(await _resolve_products(session, lines), lines)
    for entries in wanted.values():
        # Repeated lines of one product add up: refused before anything is written.
        if (error := _past_limit(entries, 0, max_quantity)) is not None:
            raise error
    request = [[line.gtin, line.product_id, line.quantity] for line in lines]

    async def apply() -> None:
        # One upsert for all products: a line only grows while it stays within the limit, and
        # RETURNING names the lines that did; a product missing from it would pass the limit.
        rows = [
            {
                "cart_id": cart_id,
                "product_id": pid,
                "quantity": sum(units for _, units in entries),
                "created_at": now,
            }
            for pid, entries in wanted.items()
        ]
        stmt = _dialect_insert(session)(CartLine).values(rows)
        grown = CartLine.quantity + stmt.excluded.quantity
        stmt = stmt.on_conflict_do_update(
            index_elements=[CartLine.cart_id, CartLine.product_id],
            set_={"quantity": grown},
            where=grown <= max_quantity,
        ).returning(CartLine.product_id)
        landed = set((await session.execute(stmt)).scalars())
        for pid, entries in wanted.items():
            if pid not in landed:
                had = (
                    await session.execute(
                        select(CartLine.quantity).where(
                            CartLine.cart_id == cart_id, CartLine.product_id == pid
                        )
                    )
                ).scalar_one()
                raise _past_limit(entries, had, max_quantity) or InvalidQuantity(
                    f"At most {max_quantity} of one product fit in a cart; it holds {had}.",
                    field=f"lines[{entries[0][0]}].quantity",
                )

    return await _write(session, viewer, cart_id, "cartLinesAdd", request, options, now, apply)


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

    async def apply() -> None:
        ids = [line.line_id for line in lines]
        found = set(
            (
                await session.execute(
                    select(CartLine.id).where(CartLine.cart_id == cart_id, CartLine.id.in_(ids))
                )
            ).scalars()
        )
        _require_lines(ids, found, "lines[{i}].lineId")
        await session.execute(
            SET_LINE_QUANTITY, [{"line": line.line_id, "qty": line.quantity} for line in lines]
        )

    return await _write(session, viewer, cart_id, "cartLinesUpdate", request, options, now, apply)


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

    async def apply() -> None:
        removed = set(
            (
                await session.execute(
                    delete(CartLine)
                    .where(CartLine.cart_id == cart_id, CartLine.id.in_(line_ids))
                    .returning(CartLine.id)
                )
            ).scalars()
        )
        _require_lines(line_ids, removed, "lineIds[{i}]")

    request = sorted(line_ids)
    return await _write(session, viewer, cart_id, "cartLinesRemove", request, options, now, apply)


async def _write(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    operation: str,
    request: Any,
    options: WriteOptions,
    now: datetime,
    apply: Callable[[], Awaitable[None]],
) -> CartChange:
    """Run one cart change: lock and bump the version first, replay or apply, keep the outcome.

    The conditional UPDATE is the first statement touching the cart: it checks access and
    ``expectedVersion`` and takes the row lock (PostgreSQL) while SQLite's write lock is
    already held (BEGIN IMMEDIATE), so concurrent writers of one cart queue here and
    versions stay gapless. A failure raises after the bump: callers run a change in a
    savepoint (the GraphQL layer does) so it leaves nothing behind. With an idempotency
    key the change runs in a savepoint of its own, which a replay rolls back.
    """
    key = idempotency.check_key(options.idempotency_key)
    request_hash = idempotency.fingerprint(
        operation, {"request": request, "expectedVersion": options.expected_version}
    )
    if key is None:
        return await _apply(session, viewer, cart_id, operation, None, "", options, now, apply)
    try:
        async with session.begin_nested():
            return await _apply(
                session, viewer, cart_id, operation, key, request_hash, options, now, apply
            )
    except _Replayed as replayed:
        return CartChange(replayed.cart, replayed=True)


async def _apply(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    operation: str,
    key: str | None,
    request_hash: str,
    options: WriteOptions,
    now: datetime,
    apply: Callable[[], Awaitable[None]],
) -> CartChange:
    locked = await _lock(session, viewer, cart_id, options.expected_version, now)
    if locked is None:
        return await _refusal(session, viewer, cart_id, operation, key, request_hash, now)
    if key is not None:
        earlier = await idempotency.recorded_outcome(
            session, cart_id, operation, key, request_hash, now
        )
        if earlier is not None:
            raise _Replayed(earlier)
    await apply()
    cart = CartView(
        cart_id, locked.version, locked.customer_id, now, await lines_of(session, cart_id)
    )
    if key is not None:
        await idempotency.record_outcome(session, operation, key, request_hash, cart, now)
    return CartChange(cart)


async def _lock(
    session: AsyncSession, viewer: Viewer, cart_id: int, expected: int | None, now: datetime
) -> _Locked | None:
    stmt = (
        update(Cart)
        .where(Cart.id == cart_id, reachable_by(viewer, now))
        .values(version=Cart.version + 1, updated_at=now)
        .returning(Cart.version, Cart.customer_id)
        .execution_options(synchronize_session=False)
    )
    if expected is not None:
        stmt = stmt.where(Cart.version == expected)
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else _Locked(row.version, row.customer_id)


async def _refusal(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    operation: str,
    key: str | None,
    request_hash: str,
    now: datetime,
) -> CartChange:
    """Explain why the lock matched nothing: a retry to replay, a stranger, or a stale version."""
    current = await cart_for_viewer(session, viewer, cart_id, now)
    if current is None:
        raise NotFound("There is no such cart.", field="cartId")
    if key is not None:
        earlier = await idempotency.recorded_outcome(
            session, cart_id, operation, key, request_hash, now
        )
        if earlier is not None:
            return CartChange(earlier, replayed=True)
    raise VersionConflict(
        f"The cart changed meanwhile; it is at version {current.version} now.",
        field="expectedVersion",
        details=current,
    )


async def _resolve_products(session: AsyncSession, lines: Sequence[AddLine]) -> list[int]:
    """Return the product id of each line, or raise for a bad or unknown barcode or id."""
    gtins: dict[int, Gtin] = {}
    for i, line in enumerate(lines):
        if (line.gtin is None) == (line.product_id is None):
            raise InvalidInput("Give either gtin or productId for a line.", field=f"lines[{i}]")
        if line.gtin is not None:
            try:
                gtins[i] = parse_gtin(line.gtin)
            except AppError as error:
                error.field = f"lines[{i}].gtin"
                raise
    by_gtin = await catalog.products_by_gtins(session, gtins.values()) if gtins else {}
    by_id = await catalog.products_by_ids(
        session, [line.product_id for line in lines if line.product_id is not None]
    )
    result: list[int] = []
    for i, line in enumerate(lines):
        if i in gtins:
            product = by_gtin.get(gtins[i].digits)
            field = f"lines[{i}].gtin"
        else:
            product = by_id.get(line.product_id or 0)
            field = f"lines[{i}].productId"
        if product is None or not product.active:
            raise NotFound("No product for sale has this barcode or id.", field=field)
        result.append(product.id)
    return result


def _units_per_product(
    product_ids: Sequence[int], lines: Sequence[AddLine]
) -> dict[int, list[tuple[int, int]]]:
    """Group the request's lines by product, in order: product id -> [(line index, units)]."""
    wanted: dict[int, list[tuple[int, int]]] = {}
    for i, (pid, line) in enumerate(zip(product_ids, lines, strict=True)):
        wanted.setdefault(pid, []).append((i, line.quantity))
    return wanted


def _past_limit(
    entries: Sequence[tuple[int, int]], had: int, max_quantity: int
) -> InvalidQuantity | None:
    """Return the error naming the first line that takes a product past the limit, if any.

    ``entries`` are one product's (line index, units) in request order; ``had`` is what the
    cart holds of it already.
    """
    total = had
    for index, units in entries:
        total += units
        if total > max_quantity:
            holds = f"it holds {had}, and " if had else ""
            return InvalidQuantity(
                f"At most {max_quantity} of one product fit in a cart; {holds}with this line "
                f"it would hold {total}.",
                field=f"lines[{index}].quantity",
            )
    return None


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
