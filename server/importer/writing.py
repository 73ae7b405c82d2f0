"""Writing one batch of checked rows: set-based upserts in one transaction, plus the outbox.

Each batch costs a fixed handful of queries whatever its size: one lookup of every barcode
of the batch, one bulk INSERT of the new products (``ON CONFLICT (sku) DO NOTHING``), one
read of the known products' columns, prices and stock, then one INSERT and one
executemany UPDATE per table for what is new and what changed, and one outbox INSERT. The
rules it follows (matching, SKUs, what a re-import changes) are in ``server.importer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, upsert
from server.importer.limits import write_store_limits
from server.importer.rows import CampaignKey, CheckedRow, Offer, Rejection
from server.models import (
    Campaign,
    CampaignPrice,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    utcnow,
)
from server.outbox import record_product_changes
from server.states import MovementSource, StockMovementKind
from server.stock.ledger import note_changes

# Product columns the import writes, besides ``attributes``.
_PRODUCT_FIELDS = (
    "name", "brand", "description", "categories", "quantity", "unit", "net_amount", "image_url",
)  # fmt: skip
_BATCH_ATTEMPTS = 3  # a concurrent writer may take a barcode between our lookup and insert


@dataclass(slots=True)
class Tally:
    """Products created, updated and left unchanged so far."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(slots=True)
class _State:
    products: dict[int, dict[str, Any]]
    prices: dict[tuple[int, str], int]
    stock: dict[tuple[int, int], tuple[int, int]]  # (location, product) -> (on hand, reserved)


async def write_batch_with_retry(
    db: Database, rows: list[CheckedRow], tally: Tally
) -> list[Rejection]:
    """Write one batch in its own transaction, retried when a concurrent import collides.

    ``tally`` counts the batch only once it committed; returns the rows rejected while
    writing.
    """
    for attempt in range(1, _BATCH_ATTEMPTS + 1):
        batch_tally = Tally()
        try:
            async with db.transaction(write=True) as session:
                rejected = await _write_batch(session, rows, batch_tally)
        except IntegrityError:
            if attempt == _BATCH_ATTEMPTS:
                raise
            continue
        tally.add(batch_tally)
        return rejected
    raise AssertionError("unreachable")


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


async def _insert_many(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_table(model)), rows)


async def _update_many(
    session: AsyncSession, model: type[Any], keys: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """UPDATE every row (column -> value, all with the same columns) in one executemany.

    ``keys`` are the columns that find the row; the others are set.
    """
    if not rows:
        return
    table = _table(model)
    # A bind parameter may not share a column's name in an UPDATE, hence b_ and v_.
    params = [{("b_" if k in keys else "v_") + k: v for k, v in row.items()} for row in rows]
    await session.execute(
        update(table)
        .where(*(table.c[k] == bindparam("b_" + k) for k in keys))
        .values({k: bindparam("v_" + k) for k in rows[0] if k not in keys}),
        params,
    )


@dataclass(slots=True)
class _Batch:
    """One batch while it is written: rows new and known, the ids they got, rows turned away."""

    now: datetime
    # Canonical GTIN -> the product that already has it.
    owners: dict[str, int]
    new: list[CheckedRow] = field(default_factory=list)
    existing: list[tuple[CheckedRow, int]] = field(default_factory=list)
    # The known rows that passed their checks, with their product.
    kept: list[tuple[CheckedRow, int]] = field(default_factory=list)
    product_ids: dict[int, int] = field(default_factory=dict)  # line -> product id
    rejected: list[Rejection] = field(default_factory=list)


async def _write_batch(
    session: AsyncSession, rows: list[CheckedRow], tally: Tally
) -> list[Rejection]:
    """Upsert one batch of checked rows in the caller's transaction; return late rejections."""
    batch = await _match(session, rows)
    await _insert_new(session, batch)
    tally.created += len(batch.new)
    current = await _current_state(session, [pid for _, pid in batch.existing])
    changed = await _update_known(session, batch, current)
    await _insert_barcodes(session, batch)
    accepted = [*batch.new, *(r for r, _ in batch.kept)]
    changed |= await _write_prices(session, accepted, batch.product_ids, current)
    changed |= await _write_offers(session, accepted, batch.product_ids)
    changed |= await _write_stock(session, accepted, batch.product_ids, current, batch.now)
    changed |= await write_store_limits(session, accepted, batch.product_ids)
    created = [batch.product_ids[r.line] for r in batch.new]
    changed -= set(created)
    tally.updated += len(changed)
    tally.unchanged += len(batch.kept) - len(changed)
    await record_product_changes(session, [*changed, *created])
    return batch.rejected


async def _match(session: AsyncSession, rows: list[CheckedRow]) -> _Batch:
    """Look every barcode of the batch up once and sort the rows into new and known ones.

    A row whose barcodes belong to different products is rejected (``gtin_conflict``).
    """
    owners = dict(
        (
            await session.execute(
                select(ProductBarcode.gtin, ProductBarcode.product_id).where(
                    ProductBarcode.gtin.in_({g.digits for r in rows for g in r.gtins})
                )
            )
        ).all()
    )
    batch = _Batch(utcnow(), owners)
    for row in rows:
        ids = {owners[g.digits] for g in row.gtins if g.digits in owners}
        if len(ids) > 1:
            batch.rejected.append(
                row.reject("gtin_conflict", "The barcodes belong to different products.")
            )
        elif ids:
            batch.existing.append((row, ids.pop()))
        else:
            batch.new.append(row)
    return batch


async def _insert_new(session: AsyncSession, batch: _Batch) -> None:
    """Insert the new products in one statement; a row whose SKU is taken is rejected.

    The SKU comes from the primary GTIN; a row whose SKU another product already has is
    skipped by ON CONFLICT (no lookup query, and safe against racing imports).
    """
    skus = {row.gtins[0].display: row for row in batch.new}
    if skus:
        inserted = await session.execute(
            upsert(session, _table(Product))
            .on_conflict_do_nothing(index_elements=["sku"])
            .returning(Product.id, Product.sku),
            [_new_product(row, sku, batch.now) for sku, row in skus.items()],
        )
        by_sku = {sku: pid for pid, sku in inserted}
        for sku, row in list(skus.items()):
            if sku in by_sku:
                batch.product_ids[row.line] = by_sku[sku]
            else:
                del skus[sku]
                batch.rejected.append(row.reject("sku_conflict", f"Another product has SKU {sku}."))
    batch.new = list(skus.values())


async def _update_known(session: AsyncSession, batch: _Batch, current: _State) -> set[int]:
    """Update the known products whose columns (or barcodes) change; return their ids.

    A row setting stock below what orders have reserved is rejected (``stock_below_reserved``).
    """
    changed: set[int] = set()
    product_updates: list[dict[str, Any]] = []
    for row, pid in batch.existing:
        too_low = [
            loc
            for loc, on_hand in row.stock.items()
            if on_hand < current.stock.get((loc, pid), (0, 0))[1]
        ]
        if too_low:
            batch.rejected.append(
                row.reject("stock_below_reserved", "New stock is below what orders have reserved.")
            )
            continue
        batch.kept.append((row, pid))
        batch.product_ids[row.line] = pid
        values = _updated_product(current.products[pid], row)
        if values is not None or any(g.digits not in batch.owners for g in row.gtins):
            product_updates.append(
                {"id": pid, **(values or current.products[pid]), "updated_at": batch.now}
            )
            changed.add(pid)
    await _update_many(session, Product, ("id",), product_updates)
    return changed


async def _insert_barcodes(session: AsyncSession, batch: _Batch) -> None:
    """Insert the barcodes no product had yet; a new product's first one is its primary."""
    new_lines = {row.line for row in batch.new}
    barcodes = [
        {
            "product_id": batch.product_ids[row.line],
            "gtin": g.digits,
            "is_primary": i == 0 and row.line in new_lines,
        }
        for row in [*batch.new, *(r for r, _ in batch.kept)]
        for i, g in enumerate(row.gtins)
        if g.digits not in batch.owners
    ]
    await _insert_many(session, ProductBarcode, barcodes)


def _new_product(row: CheckedRow, sku: str, now: datetime) -> dict[str, Any]:
    attributes = {k: v for k, v in row.attributes.items() if v is not None}
    return {
        **dict.fromkeys(_PRODUCT_FIELDS), "categories": [], **row.fields,
        "sku": sku, "attributes": attributes, "active": True,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def _updated_product(current: dict[str, Any], row: CheckedRow) -> dict[str, Any] | None:
    """Return the product columns after applying the row, or None when nothing changes."""
    values = {**current, **row.fields}
    attributes = dict(current["attributes"] or {})
    for key, value in row.attributes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    values["attributes"] = attributes
    return None if values == current else values


async def _current_state(session: AsyncSession, ids: list[int]) -> _State:
    """Return what the batch's known products have now: columns, prices and stock."""
    columns = [getattr(Product, name) for name in _PRODUCT_FIELDS]
    products: dict[int, dict[str, Any]] = {}
    prices: dict[tuple[int, str], int] = {}
    stock: dict[tuple[int, int], tuple[int, int]] = {}
    if ids:
        for row in await session.execute(
            select(Product.id, Product.attributes, *columns).where(Product.id.in_(ids))
        ):
            products[row[0]] = {
                "attributes": row[1],
                **dict(zip(_PRODUCT_FIELDS, row[2:], strict=True)),
            }
        prices = {
            (pid, cur): amount
            for pid, cur, amount in await session.execute(
                select(Price.product_id, Price.currency, Price.amount).where(
                    Price.product_id.in_(ids)
                )
            )
        }
        stock = {
            (loc, pid): (on_hand, reserved)
            for loc, pid, on_hand, reserved in await session.execute(
                select(
                    StockLevel.location_id, StockLevel.product_id,
                    StockLevel.on_hand, StockLevel.reserved,
                ).where(StockLevel.product_id.in_(ids))
            )
        }  # fmt: skip
    return _State(products, prices, stock)


async def _campaigns(session: AsyncSession, wanted: set[CampaignKey]) -> dict[CampaignKey, int]:
    """Return the ids of the campaigns the batch names, creating the missing ones."""
    if not wanted:
        return {}
    found: dict[CampaignKey, int] = {}
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.starts_at, Campaign.ends_at)
        .where(Campaign.name.in_({name for name, _, _ in wanted}))
        .order_by(Campaign.id)
    )
    for cid, name, starts, ends in rows:
        found.setdefault((name, starts, ends), cid)
    for key in sorted(wanted - found.keys(), key=lambda k: (k[0], str(k[1]), str(k[2]))):
        name, starts, ends = key
        found[key] = (
            await session.execute(
                insert(Campaign)
                .values(name=name, starts_at=starts, ends_at=ends)
                .returning(Campaign.id)
            )
        ).scalar_one()
    return found


async def _write_figures(
    session: AsyncSession,
    model: type[Any],
    keys: Sequence[str],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> set[int]:
    """INSERT the new figures, UPDATE the changed ones; return the products they touch."""
    await _insert_many(session, model, inserts)
    await _update_many(session, model, keys, updates)
    return {d["product_id"] for d in inserts} | {d["product_id"] for d in updates}


async def _write_prices(
    session: AsyncSession, rows: list[CheckedRow], product_ids: dict[int, int], state: _State
) -> set[int]:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        if row.price is None:
            continue
        pid, (currency, amount) = product_ids[row.line], row.price
        before = state.prices.get((pid, currency))
        values = {"product_id": pid, "currency": currency, "amount": amount}
        if before is None:
            inserts.append(values)
        elif before != amount:
            updates.append(values)
    return await _write_figures(session, Price, ("product_id", "currency"), inserts, updates)


async def _write_offers(
    session: AsyncSession, rows: list[CheckedRow], product_ids: dict[int, int]
) -> set[int]:
    offered: list[tuple[int, Offer]] = [
        (product_ids[row.line], row.offer) for row in rows if row.offer is not None
    ]
    if not offered:
        return set()
    campaigns = await _campaigns(session, {offer.campaign for _, offer in offered})
    before_by_key = {
        (cid, pid, cur): amount
        for cid, pid, cur, amount in await session.execute(
            select(
                CampaignPrice.campaign_id, CampaignPrice.product_id,
                CampaignPrice.currency, CampaignPrice.amount,
            ).where(
                CampaignPrice.product_id.in_({pid for pid, _ in offered}),
                CampaignPrice.campaign_id.in_(set(campaigns.values())),
            )
        )
    }  # fmt: skip
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for pid, offer in offered:
        cid = campaigns[offer.campaign]
        before = before_by_key.get((cid, pid, offer.currency))
        values = {"campaign_id": cid, "product_id": pid, "currency": offer.currency,
                  "amount": offer.amount}  # fmt: skip
        if before is None:
            inserts.append(values)
        elif before != offer.amount:
            updates.append(values)
    keys = ("campaign_id", "product_id", "currency")
    return await _write_figures(session, CampaignPrice, keys, inserts, updates)


async def _write_stock(
    session: AsyncSession,
    rows: list[CheckedRow],
    product_ids: dict[int, int],
    state: _State,
    now: datetime,
) -> set[int]:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        pid = product_ids[row.line]
        for location, on_hand in row.stock.items():
            before = state.stock.get((location, pid))
            values = {"location_id": location, "product_id": pid, "on_hand": on_hand}
            if before is None:
                inserts.append({**values, "reserved": 0, "updated_at": now})
            elif before[0] != on_hand:
                updates.append({**values, "updated_at": now})
    keys = ("location_id", "product_id")
    touched = await _write_figures(session, StockLevel, keys, inserts, updates)
    # A stock figure in the catalog file is a count: the ledger of a location with history
    # records it (server.stock), so `omnicart stock check` finds no drift after an import.
    counted: dict[tuple[int, int], int] = {}
    for d in updates:
        key = (d["location_id"], d["product_id"])
        counted[key] = d["on_hand"] - state.stock[key][0]
    await note_changes(
        session, counted, kind=StockMovementKind.COUNT, source=MovementSource.CATALOG,
        now=now, only_started=True,
    )  # fmt: skip
    return touched
