"""The stock ledger: lock a batch's stock rows, work out each movement's effect, write it all.

Every change of on hand at a location is a ``StockMovement`` row written in the same
transaction, with the change it made (``applied``), so a location's rows add up to its on
hand (``server.stock.reconcile`` checks that). The first row of a location's history is its
opening balance (source OPENING, a COUNT as of 1970) when it held stock before. The rows
of the batch are locked first, in product then location order (the order checkout's
reservations use), so concurrent batches queue on a hot product and never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert
from server.errors import Conflict
from server.models import StockLevel, StockMovement
from server.states import MovementSource, StockMovementKind

# The opening balance of a location's history stands "as of the beginning".
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Key = tuple[int, int]  # (location id, product id)


@dataclass
class Level:
    """A stock row during a batch: its figures now and how far its history reaches."""

    on_hand: int
    reserved: int
    started: bool
    latest_at: datetime | None
    counted_at: datetime | None
    opening: int


@dataclass(frozen=True, slots=True)
class Effect:
    """What one movement did: the change of on hand, and what a sale asked for beyond it."""

    applied: int
    unknown_units: int = 0
    reserved_units: int = 0


async def lock_levels(
    session: AsyncSession, keys: Iterable[Key], now: datetime
) -> dict[Key, Level]:
    """Lock (creating at 0 where missing) the stock rows of ``keys``; return them with history."""
    wanted = sorted(set(keys), key=lambda k: (k[1], k[0]))
    if not wanted:
        return {}
    found = await _select_for_update(session, wanted)
    missing = [k for k in wanted if k not in found]
    if missing:
        stmt = upsert(session, StockLevel).on_conflict_do_nothing(
            index_elements=[StockLevel.location_id, StockLevel.product_id]
        )
        await session.execute(
            stmt,
            [
                {
                    "location_id": loc,
                    "product_id": pid,
                    "on_hand": 0,
                    "reserved": 0,
                    "updated_at": now,
                }
                for loc, pid in missing
            ],
        )
        found.update(await _select_for_update(session, missing))
    history = await _history(session, wanted)
    levels: dict[Key, Level] = {}
    for key in wanted:
        on_hand, reserved = found[key]
        latest, counted = history.get(key, (None, None))
        levels[key] = Level(on_hand, reserved, key in history, latest, counted, on_hand)
    return levels


async def _select_for_update(
    session: AsyncSession, keys: Sequence[Key]
) -> dict[Key, tuple[int, int]]:
    key = tuple_(StockLevel.location_id, StockLevel.product_id)
    rows = await session.execute(
        select(
            StockLevel.location_id, StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved
        )
        .where(key.in_(keys))
        .order_by(StockLevel.product_id, StockLevel.location_id)
        .with_for_update()
    )
    return {(loc, pid): (on_hand, reserved) for loc, pid, on_hand, reserved in rows}


async def _history(
    session: AsyncSession, keys: Sequence[Key]
) -> dict[Key, tuple[datetime | None, datetime | None]]:
    counted = case((StockMovement.kind == StockMovementKind.COUNT, StockMovement.occurred_at))
    rows = await session.execute(
        select(
            StockMovement.location_id,
            StockMovement.product_id,
            func.max(StockMovement.occurred_at),
            func.max(counted),
        )
        .where(tuple_(StockMovement.location_id, StockMovement.product_id).in_(keys))
        .group_by(StockMovement.location_id, StockMovement.product_id)
    )
    return {(loc, pid): (_aware(latest), _aware(count)) for loc, pid, latest, count in rows}


def _aware(value: Any) -> datetime | None:
    """Read an aggregate's timestamp (SQLite hands back text) as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def applied_after(session: AsyncSession, key: Key, moment: datetime) -> int:
    """Return the on-hand change the ledger recorded for a location after ``moment``."""
    loc, pid = key
    total = await session.scalar(
        select(func.coalesce(func.sum(StockMovement.applied), 0)).where(
            StockMovement.location_id == loc,
            StockMovement.product_id == pid,
            StockMovement.occurred_at > moment,
        )
    )
    return int(total or 0)


def take_out(level: Level, units: int) -> Effect:
    """Take ``units`` off on hand without going below zero or into reserved units."""
    available = max(level.on_hand - level.reserved, 0)
    taken = min(units, available)
    unknown = max(units - level.on_hand, 0)
    return Effect(-taken, unknown_units=unknown, reserved_units=units - taken - unknown)


def set_to(level: Level, target: int) -> Effect:
    """Set on hand to ``target`` (a count), but never below the units reserved."""
    floor = max(level.reserved, 0)
    if target < floor:
        return Effect(floor - level.on_hand, reserved_units=floor - target)
    return Effect(target - level.on_hand)


def opening_row(key: Key, level: Level, now: datetime) -> dict[str, Any]:
    """Return the ledger row of the stock a location held before its history began."""
    loc, pid = key
    return {
        "movement_id": None, "source": MovementSource.OPENING, "device_id": None,
        "order_id": None, "location_id": loc, "product_id": pid,
        "kind": StockMovementKind.COUNT, "quantity": level.opening, "occurred_at": EPOCH,
        "recorded_at": now, "transfer_id": None, "receipt_number": None,
        "customer_phone": None, "applied": level.opening, "on_hand_after": level.opening,
        "unknown_units": 0, "reserved_units": 0,
    }  # fmt: skip


async def write_ledger(
    session: AsyncSession,
    levels: Mapping[Key, Level],
    rows: list[dict[str, Any]],
    now: datetime,
) -> set[int]:
    """Insert the rows (after opening balances where history starts) and the new on hand.

    Return the products whose on hand changed.
    """
    touched = {(r["location_id"], r["product_id"]) for r in rows}
    openings = [
        opening_row(k, lv, now)
        for k, lv in levels.items()
        if k in touched and not lv.started and lv.opening
    ]
    if openings:
        await session.execute(insert(StockMovement), openings)
    await _insert_once(session, rows)
    changed = [
        {"location_id": loc, "product_id": pid, "on_hand": lv.on_hand, "updated_at": now}
        for (loc, pid), lv in levels.items()
        if lv.on_hand != lv.opening
    ]
    if changed:
        await session.execute(update(StockLevel), changed)
    for key in touched:
        levels[key].started = True
    return {pid for (_, pid), lv in levels.items() if lv.on_hand != lv.opening}


async def _insert_once(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert device movements, or raise Conflict when another call just recorded one of them.

    Replays are screened out with the stock rows locked, so this only happens when two calls
    send one ``movementId`` for different products at the same moment; the caller's
    savepoint or transaction rolls back and a retry then sees which one was recorded.
    """
    if not rows:
        return
    table = StockMovement.__table__
    stmt = upsert(session, table).on_conflict_do_nothing(index_elements=[table.c.movement_id])
    inserted = (await session.execute(stmt.returning(table.c.movement_id), rows)).all()
    if len(inserted) != len(rows):
        raise Conflict(
            "Another call recorded one of these movementIds at the same moment; send it again.",
            field="movementId",
        )


async def note_changes(
    session: AsyncSession,
    changes: Mapping[Key, int],
    *,
    kind: StockMovementKind,
    source: MovementSource,
    now: datetime,
    order_id: int | None = None,
    only_started: bool = False,
) -> None:
    """Write ledger rows for on-hand changes made elsewhere (orders, the catalog import).

    Call after the change, in its transaction (the stock rows are locked by then):
    ``changes`` maps (location, product) to the change of on hand it made. A COUNT row
    records the new on hand as its quantity. ``only_started`` leaves out locations without
    history: their first movement's opening balance will include the change.
    """
    keys = sorted((k for k, delta in changes.items() if delta), key=lambda k: (k[1], k[0]))
    if not keys:
        return
    history = await _history(session, keys)
    if only_started:
        keys = [k for k in keys if k in history]
        if not keys:
            return
    after = await _select_for_update(session, keys)
    rows: list[dict[str, Any]] = []
    for key in keys:
        on_hand, reserved = after[key]
        delta = changes[key]
        before = Level(on_hand - delta, reserved, key in history, None, None, on_hand - delta)
        if not before.started and before.opening:
            rows.append(opening_row(key, before, now))
        quantity = on_hand if kind == StockMovementKind.COUNT else abs(delta)
        rows.append(
            {
                **opening_row(key, before, now),
                "source": source,
                "order_id": order_id,
                "kind": kind,
                "quantity": quantity,
                "occurred_at": now,
                "applied": delta,
                "on_hand_after": on_hand,
            }  # fmt: skip
        )
    await session.execute(insert(StockMovement), rows)
