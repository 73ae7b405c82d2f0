"""The catalog service: products by barcode or id, prices in force, and availability."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.gtin import Gtin
from server.models import (
    Campaign,
    CampaignPrice,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
    utcnow,
)

StockStatus = Literal["IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"]


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """The campaign behind a lowered price."""

    id: int
    name: str
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """The regular price, the price in force now, and the campaign that lowers it, if any."""

    currency: str
    regular: int
    current: int
    campaign: CampaignInfo | None


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
        return "OUT_OF_STOCK"
    if available <= low_threshold:
        return "LOW_STOCK"
    return "IN_STOCK"


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


async def prices_by_product(
    session: AsyncSession, ids: Iterable[int], currency: str, at: datetime | None = None
) -> dict[int, PriceInfo]:
    """Return the price in force at ``at`` (now by default) for each product that has one.

    A campaign price applies inside its window (start inclusive, end exclusive; an open
    end means no limit). When several campaigns run at once the lowest price wins, so a
    shopper never pays more than an advertised offer.
    """
    wanted = set(ids)
    if not wanted:
        return {}
    moment = at or utcnow()
    regular = dict(
        (
            await session.execute(
                select(Price.product_id, Price.amount).where(
                    Price.product_id.in_(wanted), Price.currency == currency
                )
            )
        ).all()
    )
    campaign_rows = await session.execute(
        select(CampaignPrice.product_id, CampaignPrice.amount, Campaign)
        .join(Campaign, Campaign.id == CampaignPrice.campaign_id)
        .where(
            CampaignPrice.product_id.in_(wanted),
            CampaignPrice.currency == currency,
            or_(Campaign.starts_at.is_(None), Campaign.starts_at <= moment),
            or_(Campaign.ends_at.is_(None), Campaign.ends_at > moment),
        )
        .order_by(CampaignPrice.product_id, CampaignPrice.amount, Campaign.id)
    )
    best: dict[int, tuple[int, Campaign]] = {}
    for product_id, amount, campaign in campaign_rows:
        best.setdefault(product_id, (amount, campaign))
    result: dict[int, PriceInfo] = {}
    for product_id, amount in regular.items():
        offer = best.get(product_id)
        if offer is not None and offer[0] < amount:
            c = offer[1]
            info = CampaignInfo(c.id, c.name, c.starts_at, c.ends_at)
            result[product_id] = PriceInfo(currency, amount, offer[0], info)
        else:
            result[product_id] = PriceInfo(currency, amount, amount, None)
    return result


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
