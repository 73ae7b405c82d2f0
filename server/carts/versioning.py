"""Versioned, replayable cart writes: one optimistic lock and one idempotency replay for all.

Every change of a cart (lines added, changed or removed; a checkout) runs through
``run_versioned``:

1. Its first statement touching the cart is ``bump_version``, a conditional ``UPDATE carts
   SET version = version + 1 … RETURNING``. It checks that the caller reaches the cart and,
   when given, the ``expectedVersion``, and takes the row lock (PostgreSQL) while SQLite's
   write lock is already held (BEGIN IMMEDIATE), so concurrent writers of one cart queue
   here and versions stay gapless. A failure raises after the bump: callers run a change in
   a savepoint (the GraphQL layer does) so it leaves nothing behind.
2. When the UPDATE matches nothing, the refusal says why: the caller's own retry (answered
   with its first result), a cart the caller does not reach (``NotFound``), or a stale
   version (``VersionConflict`` with the current cart in ``details``).
3. With an idempotency key the change runs in a savepoint of its own. A key that already
   has an outcome rolls that savepoint back (the bump with it) and answers the outcome,
   marked replayed; the same key with another request is ``IdempotencyKeyReused``.

Where an outcome is kept is the operation's business: a cart mutation keeps the cart it
answered in ``idempotency_keys`` (``kept_outcome``/``keep_outcome`` below, per cart and
operation, for a day); a checkout keeps its key on the order it placed. Only successful
outcomes are kept: a request that failed changed nothing, so retrying it runs it again.
Keys are looked up only while the cart's row is locked by the write, so a retry racing its
own first attempt waits for it and then finds its key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, Table, Update, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.views import (
    CartView,
    LineView,
    cart_for_viewer,
    reach_condition,
    reach_shape,
    reach_values,
)
from server.db import decode_json_rows, json_rows, per_dialect, rows_of, upsert
from server.errors import IdempotencyKeyReused, InvalidInput, NotFound, VersionConflict
from server.models import Cart, IdempotencyKey
from server.viewer import Viewer

KEY_LIFETIME = timedelta(days=1)
MAX_KEY_LENGTH = 200
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Guard:
    """What guards one write: who asks, which cart, the version they saw, and the retry key."""

    viewer: Viewer
    cart_id: int
    now: datetime
    operation: str
    expected_version: int | None
    key: str | None
    # The fingerprint of the request (the key itself excluded); "" without a key.
    request_hash: str

    @classmethod
    def of(
        cls,
        viewer: Viewer,
        cart_id: int,
        now: datetime,
        *,
        operation: str,
        request: Any,
        expected_version: int | None,
        key: str | None,
    ) -> Guard:
        """Check the idempotency key and fingerprint ``request``; InvalidInput for a bad key."""
        checked = check_key(key)
        return cls(
            viewer=viewer,
            cart_id=cart_id,
            now=now,
            operation=operation,
            expected_version=expected_version,
            key=checked,
            request_hash="" if checked is None else fingerprint(operation, request),
        )


@dataclass(frozen=True, slots=True)
class Locked:
    """The cart as the versioned UPDATE left it: its new version and who holds it."""

    version: int
    customer_id: int | None
    token_hash: str | None
    # What the UPDATE returned besides (``bump_version``'s ``returning``), in that order.
    extra: tuple[Any, ...] = ()


class VersionedWrite(Protocol[T_co]):
    """One operation on a cart, in the steps ``run_versioned`` takes it through."""

    @property
    def guard(self) -> Guard: ...

    async def lock(self, session: AsyncSession) -> Locked | None:
        """Bump the cart's version (``bump_version``); None when the UPDATE matched nothing."""
        ...

    async def kept(self, session: AsyncSession) -> T_co | None:
        """Return the replayed outcome the key already has while the cart is locked, or None."""
        ...

    async def retried(self, session: AsyncSession, current: CartView | None) -> T_co | None:
        """Return the replayed outcome when the lock failed (``current``: None if unreached)."""
        ...

    async def apply(self, session: AsyncSession, locked: Locked) -> T_co:
        """Make the change on the locked cart and return (and keep) its outcome."""
        ...


def check_key(key: str | None) -> str | None:
    """Return the key as given, or raise InvalidInput when it is empty or too long."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    return key


def fingerprint(operation: str, request: Any) -> str:
    """Return the hash of a request's canonical JSON form (the key itself excluded)."""
    canonical = json.dumps([operation, request], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_versioned(
    session: AsyncSession, write: VersionedWrite[T], *, savepoint: bool = False
) -> T:
    """Lock the cart, then replay, refuse or apply ``write`` (see the module's steps).

    With a key, or with ``savepoint=True``, the write runs in a savepoint of its own, so a
    replay or a failure leaves nothing behind even for a caller without one.
    """
    if write.guard.key is None and not savepoint:
        outcome, _replayed = await _attempt(session, write)
        return outcome
    nested = await session.begin_nested()
    try:
        outcome, replayed = await _attempt(session, write)
    except BaseException:
        await nested.rollback()
        raise
    # A replay answers the kept outcome and undoes the lock's bump with the savepoint.
    await (nested.rollback() if replayed else nested.commit())
    return outcome


async def _attempt(session: AsyncSession, write: VersionedWrite[T]) -> tuple[T, bool]:
    """Return the write's outcome, and whether it replays one kept under its key."""
    locked = await write.lock(session)
    if locked is None:
        return await _refusal(session, write), False
    if write.guard.key is not None:
        kept = await write.kept(session)
        if kept is not None:
            return kept, True
    return await write.apply(session, locked), False


async def _refusal(session: AsyncSession, write: VersionedWrite[T]) -> T:
    """Explain why the lock matched nothing: a retry to replay, a stranger, or a stale version."""
    g = write.guard
    current = await cart_for_viewer(session, g.viewer, g.cart_id, g.now)
    if g.key is not None:
        retried = await write.retried(session, current)
        if retried is not None:
            return retried
    if current is None:
        raise NotFound("There is no such cart.", field="cartId")
    raise VersionConflict(
        f"The cart changed meanwhile; it is at version {current.version} now.",
        field="expectedVersion",
        details=current,
    )


_CARTS = cast(Table, Cart.__table__)
_KEYS = cast(Table, IdempotencyKey.__table__)


def bump_statement(
    shape: tuple[bool, bool, bool],
    expected: bool,
    *conditions: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    returning: Sequence[Any] = (),
) -> Update:
    """Return the version bump for one shape of viewer (``reach_shape``); binds: ``bump_values``.

    ``expected``: the caller names the version they saw. See ``bump_version`` for the rest.
    """
    c = _CARTS.c
    stmt = (
        update(_CARTS)
        .where(c.id == bindparam("bump_cart"), reach_condition(*shape), *conditions)
        .values(
            version=c.version + 1,
            updated_at=bindparam("bump_now", type_=c.updated_at.type),
            **(values or {}),
        )
        .returning(c.version, c.customer_id, c.token_hash, *returning)
    )
    if expected:
        stmt = stmt.where(c.version == bindparam("bump_expected"))
    return stmt


def bump_values(g: Guard) -> dict[str, Any]:
    """Return the values of ``bump_statement``'s bind parameters for this guard."""
    values = reach_values(g.viewer, g.now)
    values.update(bump_cart=g.cart_id, bump_now=g.now, bump_expected=g.expected_version)
    return values


async def run_bump(
    session: AsyncSession, g: Guard, stmt: Update, more: Mapping[str, Any] | None = None
) -> Locked | None:
    """Run a ``bump_statement`` for this guard; None when the UPDATE matched nothing.

    ``more``: the values of the statement's own bind parameters (its ``returning``
    expressions', a checkout's pickup store).
    """
    values = bump_values(g)
    if more:
        values.update(more)
    rows = await rows_of(session, stmt, values)  # the cart's row, by its id: one or none
    if not rows:
        return None
    row = rows[0]
    return Locked(row[0], row[1], row[2], tuple(row[3:]))


async def bump_version(
    session: AsyncSession,
    g: Guard,
    *conditions: ColumnElement[bool],
    values: Mapping[str, Any] | None = None,
    returning: Sequence[Any] = (),
) -> Locked | None:
    """Add 1 to the cart's version and lock its row; None when the guard does not let it.

    The UPDATE matches when the viewer reaches the cart, at the version they saw (when
    they name one), and ``conditions`` hold. ``values`` sets more columns in the same
    statement (a checkout closes the cart with it); ``returning`` adds expressions to its
    RETURNING (``Locked.extra``), e.g. the cart's lines as they stand before the change,
    as a scalar subquery (``cart_lines_json``), so the change reads nothing afterwards.
    A cart change uses ``bump_with_lines``, whose statement is built once.
    """
    stmt = bump_statement(
        reach_shape(g.viewer),
        g.expected_version is not None,
        *conditions,
        values=values,
        returning=returning,
    )
    return await run_bump(session, g, stmt)


def cart_lines_json(session: AsyncSession) -> Any:
    """Return the bumped cart's lines as a scalar subquery for ``bump_version(returning=…)``.

    One JSON array of ``[id, product_id, quantity]``; ``lines_from_json`` decodes it.
    """
    return json_rows(
        session, "l.id, l.product_id, l.quantity", "FROM cart_lines l WHERE l.cart_id = carts.id"
    )


@per_dialect
def _bump_with_lines(
    session: AsyncSession, shape: tuple[bool, bool, bool], expected: bool
) -> Update:
    return bump_statement(shape, expected, returning=[cart_lines_json(session)])


async def bump_with_lines(session: AsyncSession, g: Guard) -> Locked | None:
    """``bump_version`` returning the cart's lines before the change (``Locked.extra[0]``)."""
    stmt = _bump_with_lines(session, reach_shape(g.viewer), g.expected_version is not None)
    return await run_bump(session, g, stmt)


def lines_from_json(value: Any) -> tuple[LineView, ...]:
    """Return the lines of ``cart_lines_json``, in the order they were first added (by id)."""
    rows = sorted(decode_json_rows(value), key=lambda row: int(row[0]))
    return tuple(LineView(int(i), int(p), int(q)) for i, p, q in rows)


_KEPT = select(_KEYS.c.request_hash, _KEYS.c.outcome).where(
    _KEYS.c.cart_id == bindparam("cart_id"),
    _KEYS.c.operation == bindparam("operation"),
    _KEYS.c.key == bindparam("key"),
    _KEYS.c.expires_at > bindparam("now", type_=_KEYS.c.expires_at.type),
)


async def kept_outcome(session: AsyncSession, g: Guard) -> CartView | None:
    """Return the cart a live key of a cart mutation answered with, None for a new key.

    Raises IdempotencyKeyReused when the key was kept with another request.
    """
    values = {"cart_id": g.cart_id, "operation": g.operation, "key": g.key, "now": g.now}
    row = (await session.execute(_KEPT, values)).one_or_none()
    if row is None:
        return None
    if row.request_hash != g.request_hash:
        raise IdempotencyKeyReused(
            "This idempotency key was already used for a different request on this cart.",
            field="idempotencyKey",
        )
    return CartView.from_snapshot(row.outcome)


# The columns a kept outcome writes; the first three name it (the unique key).
_KEPT_COLUMNS = (
    "cart_id",
    "operation",
    "key",
    "request_hash",
    "outcome",
    "created_at",
    "expires_at",
)


@per_dialect
def _keep(session: AsyncSession) -> Any:
    k = _KEYS.c
    stmt = upsert(session, _KEYS).values(
        {name: bindparam(name, type_=k[name].type) for name in _KEPT_COLUMNS}
    )
    return stmt.on_conflict_do_update(
        index_elements=[k.cart_id, k.operation, k.key],
        set_={name: stmt.excluded[name] for name in _KEPT_COLUMNS[3:]},
    )


async def keep_outcome(session: AsyncSession, g: Guard, cart: CartView) -> None:
    """Keep the outcome of a successful cart mutation under its key for a day.

    Expired keys are deleted in batches by the background housekeeping
    (``server.housekeeping``), not here; the same key used again after it expired (a live
    one was looked up under the cart's lock already) takes over its row.
    """
    values = {
        "cart_id": cart.id,
        "operation": g.operation,
        "key": g.key,
        "request_hash": g.request_hash,
        "outcome": cart.to_snapshot(),
        "created_at": g.now,
        "expires_at": g.now + KEY_LIFETIME,
    }
    await session.execute(_keep(session), values)


async def expire_keys(session: AsyncSession, now: datetime, *, batch: int = 1000) -> int:
    """Delete up to ``batch`` expired idempotency keys; return how many (housekeeping only)."""
    oldest = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .order_by(IdempotencyKey.id)
        .limit(batch)
    )
    result = await session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(oldest.scalar_subquery()))
        .returning(IdempotencyKey.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def forget_keys(session: AsyncSession, cart_id: int) -> None:
    """Drop every key of a cart that can no longer change (merged into another)."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.cart_id == cart_id))
