"""The catalog service: products by barcode or id, stores and availability (prices: pricing)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.gtin import Gtin
from server.models import Product, ProductBarcode, StockLevel, StockLocation, Store
from server.states import StockStatus


@dataclass(frozen=True, slots=True)
class StockFigure:
    """A product's stock at one location, with what is left to sell."""

    location_id: int
    store_id: int | None
    online: bool
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """Return on hand minus reserved, never below zero."""
        return max(self.on_hand - self.reserved, 0)


def stock_status(available: int, low_threshold: int) -> StockStatus:
    """Classify an available quantity for shoppers: none, a few left, or plenty."""
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    if available <= low_threshold:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


async def product_by_gtin(session: AsyncSession, gtin: Gtin) -> Product | None:
    """Return the active product carrying this GTIN, or None when no product has it."""
    stmt = (
        select(Product)
        .join(ProductBarcode, ProductBarcode.product_id == Product.id)
        .where(ProductBarcode.gtin == gtin.digits, Product.active.is_(True))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def products_by_gtins(session: AsyncSession, gtins: Iterable[Gtin]) -> dict[str, Product]:
    """Return the active products carrying these GTINs, keyed by canonical GTIN, in one query."""
    wanted = {g.digits for g in gtins}
    if not wanted:
        return {}
    stmt = (
        select(ProductBarcode.gtin, Product)
        .join(Product, ProductBarcode.product_id == Product.id)
        .where(ProductBarcode.gtin.in_(wanted), Product.active.is_(True))
    )
    return {gtin: product for gtin, product in await session.execute(stmt)}


async def products_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Product]:
    """Return the products with these ids (inactive ones included), keyed by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Product).where(Product.id.in_(wanted)))
    return {p.id: p for p in rows.scalars()}


async def barcodes_by_product(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[str]]:
    """Return each product's canonical GTINs, the primary one first."""
    wanted = set(ids)
    found: dict[int, list[str]] = defaultdict(list)
    if not wanted:
        return found
    stmt = (
        select(ProductBarcode.product_id, ProductBarcode.gtin)
        .where(ProductBarcode.product_id.in_(wanted))
        .order_by(ProductBarcode.product_id, ProductBarcode.is_primary.desc(), ProductBarcode.id)
    )
    for product_id, gtin in await session.execute(stmt):
        found[product_id].append(gtin)
    return found


async def stock_by_product(
    session: AsyncSession, ids: Iterable[int]
) -> dict[int, list[StockFigure]]:
    """Return every location's stock figures for each product (locations without a row: none)."""
    wanted = set(ids)
    found: dict[int, list[StockFigure]] = defaultdict(list)
    if not wanted:
        return found
    stmt = (
        select(
            StockLevel.product_id,
            StockLocation.id,
            StockLocation.store_id,
            StockLocation.online,
            StockLevel.on_hand,
            StockLevel.reserved,
        )
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(StockLevel.product_id.in_(wanted))
        .order_by(StockLevel.product_id, StockLocation.id)
    )
    for product_id, loc_id, store_id, online, on_hand, reserved in await session.execute(stmt):
        found[product_id].append(StockFigure(loc_id, store_id, online, on_hand, reserved))
    return found


async def list_stores(session: AsyncSession) -> Sequence[Store]:
    """Return every store, ordered by name."""
    return (await session.execute(select(Store).order_by(Store.name))).scalars().all()


async def stores_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Store]:
    """Return the stores with these ids, keyed by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Store).where(Store.id.in_(wanted)))
    return {s.id: s for s in rows.scalars()}


async def store_by_code(session: AsyncSession, code: str) -> Store | None:
    """Return the store with this code, or None."""
    return (await session.execute(select(Store).where(Store.code == code))).scalar_one_or_none()


async def location_for_store(session: AsyncSession, store_id: int | None) -> StockLocation | None:
    """Return the stock location of a store, or the online warehouse for ``None``."""
    cond = (
        StockLocation.online.is_(True)
        if store_id is None
        else and_(StockLocation.store_id == store_id, StockLocation.online.is_(False))
    )
    return (await session.execute(select(StockLocation).where(cond))).scalars().first()
