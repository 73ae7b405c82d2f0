"""Writing the stores a batch's rows limit their own codes (restricted circulation numbers) to.

A row with ``stores`` sets, for each of its restricted codes, exactly those stores
(``ProductBarcodeStore``; none: the code is its product in every store). A row without
``stores`` leaves the limits alone. Global GTINs are never limited. Two queries per batch
(read the current limits, then insert), plus one delete when a limit is lifted or changed.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.importer.rows import CheckedRow
from server.models import ProductBarcode, ProductBarcodeStore


async def write_store_limits(
    session: AsyncSession, rows: list[CheckedRow], product_ids: dict[int, int]
) -> set[int]:
    """Set the store limits the rows name on their restricted codes; return changed products."""
    wanted = {
        g.digits: (product_ids[row.line], frozenset(row.stores))
        for row in rows
        if row.stores is not None and row.line in product_ids
        for g in row.gtins
        if g.restricted
    }
    if not wanted:
        return set()
    current: dict[int, set[int]] = defaultdict(set)
    barcode_ids: dict[str, int] = {}
    stmt = (
        select(ProductBarcode.id, ProductBarcode.gtin, ProductBarcodeStore.store_id)
        .outerjoin(ProductBarcodeStore, ProductBarcodeStore.barcode_id == ProductBarcode.id)
        .where(ProductBarcode.gtin.in_(wanted))
    )
    for barcode_id, gtin, store_id in await session.execute(stmt):
        barcode_ids[gtin] = barcode_id
        if store_id is not None:
            current[barcode_id].add(store_id)
    changed: dict[int, frozenset[int]] = {
        barcode_ids[gtin]: stores
        for gtin, (_, stores) in wanted.items()
        if current.get(barcode_ids[gtin], set()) != stores
    }
    if not changed:
        return set()
    lifted = [bid for bid in changed if current.get(bid)]
    if lifted:
        await session.execute(
            delete(ProductBarcodeStore).where(ProductBarcodeStore.barcode_id.in_(lifted))
        )
    limits = [
        {"barcode_id": bid, "store_id": sid}
        for bid, stores in changed.items()
        for sid in sorted(stores)
    ]
    if limits:
        await session.execute(insert(ProductBarcodeStore), limits)
    by_barcode = {barcode_ids[gtin]: pid for gtin, (pid, _) in wanted.items()}
    return {by_barcode[bid] for bid in changed}
