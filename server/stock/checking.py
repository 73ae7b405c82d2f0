"""Checking a batch of movements against the database before any of it is applied.

One query each: the products of every code in the batch, the stock locations, the
movements already recorded under the batch's ids, and the transfers it continues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import (
    AppError,
    Conflict,
    IdempotencyKeyReused,
    InvalidGtin,
    NotFound,
    PermissionDenied,
)
from server.gtin import Gtin, parse_gtin
from server.models import StockLocation, StockMovement
from server.stock.inputs import MovementInput, Recorder, Rejected, check_movement

# Movement ids asked about per query (well under every driver's parameter limit).
_CHUNK = 500
_CONTENT = (
    StockMovement.movement_id, StockMovement.product_id, StockMovement.location_id,
    StockMovement.kind, StockMovement.quantity, StockMovement.occurred_at,
    StockMovement.transfer_id, StockMovement.receipt_number, StockMovement.customer_phone,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Ready:
    """A movement that passed every check, with its product and location resolved."""

    index: int
    movement: MovementInput
    product_id: int
    location_id: int

    def content(self) -> tuple[object, ...]:
        """Return what a replay must repeat exactly: everything but the id."""
        m = self.movement
        return (self.product_id, self.location_id, str(m.kind), m.quantity, m.occurred_at,
                m.transfer_id, m.receipt_number, m.customer_phone)  # fmt: skip


@dataclass
class Checked:
    """A batch after checking: movements to apply, replays skipped, rejections."""

    ready: list[Ready] = field(default_factory=list)
    replayed: int = 0
    rejected: list[Rejected] = field(default_factory=list)


async def resolve_batch(
    session: AsyncSession, recorder: Recorder, movements: list[MovementInput], now: datetime
) -> Checked:
    """Check each movement's fields and right, and find its product and location.

    What passes is ``ready``; the caller locks its stock rows and then calls ``screen_batch``.
    """
    checked = Checked()
    locations = await _locations(session)
    products = await _products(session, movements)
    for index, movement in enumerate(movements):
        resolved = _resolve(recorder, movement, locations, products, now)
        if isinstance(resolved, AppError):
            checked.rejected.append(Rejected(index, movement.movement_id, resolved))
        else:
            checked.ready.append(Ready(index, movement, resolved[0], resolved[1]))
    return checked


async def screen_batch(session: AsyncSession, checked: Checked) -> None:
    """Drop replays and reject reused ids and unpaired transfers, against the ledger.

    Called with the batch's stock rows locked: a concurrent call with the same movement (so
    the same rows) has committed by then, and its rows are seen here as a replay.
    """
    fresh = await _drop_replays(session, checked.ready, checked)
    checked.ready = await _check_transfers(session, fresh, checked)
    checked.rejected.sort(key=lambda r: r.index)


def _resolve(
    recorder: Recorder,
    movement: MovementInput,
    locations: dict[int | None, int],
    products: dict[tuple[str, int | None], int | AppError],
    now: datetime,
) -> tuple[int, int] | AppError:
    """Return (product id, location id) of a movement, or why it cannot be had."""
    problem = check_movement(movement, now)
    if problem is not None:
        return problem
    if not recorder.may_record_at(movement.store_id):
        where = "the online warehouse" if movement.store_id is None else "that store"
        return PermissionDenied(f"This device does not record stock for {where}.", field="storeId")
    location = locations.get(movement.store_id)
    if location is None:
        what = "There is no online warehouse." if movement.store_id is None else "No such store."
        return NotFound(what, field="storeId")
    product = products.get((movement.gtin, movement.store_id))
    if product is None:
        return NotFound(f"No product has the code {movement.gtin[:40]!r}.", field="gtin")
    if isinstance(product, AppError):
        return product
    return product, location


async def _locations(session: AsyncSession) -> dict[int | None, int]:
    """Return the stock location of every store, and the online warehouse under None."""
    rows = await session.execute(
        select(StockLocation.id, StockLocation.store_id, StockLocation.online).order_by(
            StockLocation.id
        )
    )
    found: dict[int | None, int] = {}
    for location_id, store_id, online in rows:
        found.setdefault(None if online else store_id, location_id)
    return found


async def _products(
    session: AsyncSession, movements: Iterable[MovementInput]
) -> dict[tuple[str, int | None], int | AppError]:
    """Return the product of each (code, store) pair by the catalog's rules for codes.

    A code in the catalog is its product (store-limited own codes only in their stores);
    an own code nothing carries is read as an in-store label whose item number leads to the
    product (``server.catalog.products_for_codes``). One query per store in the batch for
    the codes, plus the label look-ups; a pair left out names no product.
    """
    found: dict[tuple[str, int | None], int | AppError] = {}
    by_store: dict[int | None, dict[str, Gtin]] = defaultdict(dict)
    for m in movements:
        if (m.gtin, m.store_id) in found or m.gtin in by_store[m.store_id]:
            continue
        try:
            by_store[m.store_id][m.gtin] = parse_gtin(m.gtin)
        except InvalidGtin as error:
            found[(m.gtin, m.store_id)] = InvalidGtin(
                error.message, field="gtin", details=error.details
            )
    for store_id, codes in by_store.items():
        known = await catalog.products_by_gtins(session, list(codes.values()), store_id)
        for raw, gtin in codes.items():
            if gtin.digits in known:
                found[(raw, store_id)] = known[gtin.digits].id
            elif gtin.restricted:
                label = await _label_product(session, gtin, store_id)
                if label is not None:
                    found[(raw, store_id)] = label
    return found


async def _label_product(
    session: AsyncSession, gtin: Gtin, store_id: int | None
) -> int | AppError | None:
    """Return the product an own code's label names (None: no such item), or its refusal."""
    try:
        matches = await catalog.products_for_codes(session, [gtin], store_id)
    except InvalidGtin as error:
        return InvalidGtin(error.message, field="gtin", details=error.details)
    product = matches[gtin.digits].product
    return product.id if product is not None else None


async def _drop_replays(
    session: AsyncSession, candidates: list[Ready], checked: Checked
) -> list[Ready]:
    """Skip movements recorded before with the same content; reject reused ids."""
    recorded = await _recorded(session, [c.movement.movement_id for c in candidates])
    seen: dict[str, tuple[object, ...]] = {}
    fresh: list[Ready] = []
    for ready in candidates:
        mid = ready.movement.movement_id
        earlier = recorded.get(mid, seen.get(mid))
        if earlier is None:
            seen[mid] = ready.content()
            fresh.append(ready)
        elif earlier == ready.content():
            checked.replayed += 1
        else:
            error = IdempotencyKeyReused(
                f"movementId {mid[:40]!r} was recorded with other content.", field="movementId"
            )
            checked.rejected.append(Rejected(ready.index, mid, error))
    return fresh


async def _recorded(session: AsyncSession, ids: list[str]) -> dict[str, tuple[object, ...]]:
    found: dict[str, tuple[object, ...]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _CHUNK):
        rows = await session.execute(
            select(*_CONTENT).where(StockMovement.movement_id.in_(unique[start : start + _CHUNK]))
        )
        for row in rows:
            found[str(row[0])] = tuple(row[1:])
    return found


async def _check_transfers(
    session: AsyncSession, fresh: list[Ready], checked: Checked
) -> list[Ready]:
    """Reject transfer halves that do not pair: one OUT and one IN, same product and units."""
    ids = {r.movement.transfer_id for r in fresh if r.movement.transfer_id}
    if not ids:
        return fresh
    halves: dict[str, list[tuple[str, int, int, int]]] = defaultdict(list)
    rows = await session.execute(
        select(
            StockMovement.transfer_id, StockMovement.kind, StockMovement.product_id,
            StockMovement.quantity, StockMovement.location_id,
        ).where(StockMovement.transfer_id.in_(ids))
    )  # fmt: skip
    for transfer_id, kind, pid, quantity, location in rows:
        halves[str(transfer_id)].append((kind, pid, quantity, location))
    kept: list[Ready] = []
    for ready in fresh:
        m = ready.movement
        if m.transfer_id is None:
            kept.append(ready)
            continue
        half = (str(m.kind), ready.product_id, m.quantity, ready.location_id)
        problem = _transfer_problem(halves[m.transfer_id], half)
        if problem is None:
            halves[m.transfer_id].append(half)
            kept.append(ready)
        else:
            error = Conflict(f"Transfer {m.transfer_id[:40]!r}: {problem}", field="transferId")
            checked.rejected.append(Rejected(ready.index, m.movement_id, error))
    return kept


def _transfer_problem(
    known: list[tuple[str, int, int, int]], half: tuple[str, int, int, int]
) -> str | None:
    kind, product, quantity, location = half
    for other_kind, other_product, other_quantity, other_location in known:
        if other_kind == kind:
            return f"it already has a {kind}."
        if (other_product, other_quantity) != (product, quantity):
            return "its other half moves another product or quantity."
        if other_location == location:
            return "it cannot go from a location to the same location."
    return None
