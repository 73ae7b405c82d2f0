"""Demo data: four Norwegian stores, the online warehouse, ~2,000 real products, prices and stock.

``seed_demo`` runs once: it does nothing when any store exists. It imports
``server/demo/products.jsonl`` (Open Food Facts, ODbL: see ``server/demo/README.md``) with
``import_catalog``, then in one transaction creates the stores and their stock locations,
the online warehouse, three campaigns, a price in ``settings.currency`` for every demo
product, the campaign prices and the stock. Creating the stores last makes "a store
exists" a true "seeding finished" mark: a seed that fails half-way is simply run again.

Every figure is derived from the barcode (SHA-256), so every run and every machine agree.
Times are relative to the moment of seeding: "Ukens tilbud" started 2 days before and ends
14 days after (~10% of products, 15–30% off, rounded down to a price ending in ,90),
"Forrige måneds kupp" ended 10 days before, "Neste måneds kupp" starts in 12 days.

Stock profiles (share of products): in stock everywhere (~60%); out of stock in some
stores but available online (~15%); online only (~8%); low, 1–3 units, everywhere (~10%);
sold out everywhere (~3%); in stores but not online (~4%). Barcodes to demo each case:

=================  ===================================================  =====================
barcode            product                                              case
=================  ===================================================  =====================
``3017620422003``  Nutella                                              in stock everywhere;
                                                                        in "Ukens tilbud"
``7025110118769``  Økologisk lettmelk fra Rørosmeieriet                 out of stock in
                                                                        OSL-STORO and
                                                                        BGO-LAGUNEN, other
                                                                        stores and online
``7023026406208``  Fløtepotet med hvitløk                               online only
``7035620010941``  Kjøttdeig                                            low (≤3) everywhere
``7033330086935``  Risgrøt                                              sold out everywhere
``7021150002853``  elgpølse                                             in stores, not online
``5449000000996``  Coca-Cola                                            in stock everywhere;
                                                                        in "Neste måneds
                                                                        kupp" (future)
``5000159461122``  Snickers                                             in stock everywhere;
                                                                        in "Forrige måneds
                                                                        kupp" (ended)
=================  ===================================================  =====================
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import Database
from server.errors import InvalidGtin
from server.gtin import parse_gtin
from server.importer import ImportReport, ProgressCallback, import_catalog
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
from server.outbox import record_product_changes

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_PRODUCTS = DEMO_DIR / "products.jsonl"
ONLINE_LOCATION_CODE = "ONLINE"


@dataclass(frozen=True, slots=True)
class DemoStore:
    """A demo store: code, name, street address and city."""

    code: str
    name: str
    address: str
    city: str


DEMO_STORES = (
    DemoStore("OSL-STORO", "Oslo Storo", "Vitaminveien 7, 0485 Oslo", "Oslo"),
    DemoStore("BGO-LAGUNEN", "Bergen Lagunen", "Laguneveien 1, 5239 Rådal", "Bergen"),
    DemoStore("TRD-SOLSIDEN", "Trondheim Solsiden", "Beddingen 10, 7014 Trondheim", "Trondheim"),
    DemoStore("SVG-KVADRAT", "Stavanger Kvadrat", "Gamle Stokkavei 1, 4313 Sandnes", "Sandnes"),
)

StockProfile = Literal["everywhere", "gaps", "online_only", "low", "sold_out", "stores_only"]
# Upper bounds (exclusive) on hash % 100 for each profile, in order.
_PROFILE_SHARES: tuple[tuple[int, StockProfile], ...] = (
    (60, "everywhere"),
    (75, "gaps"),
    (83, "online_only"),
    (93, "low"),
    (96, "sold_out"),
    (100, "stores_only"),
)
PINNED_PROFILES: dict[str, StockProfile] = {
    "3017620422003": "everywhere",
    "5449000000996": "everywhere",
    "5000159461122": "everywhere",
    "7025110118769": "gaps",
    "7023026406208": "online_only",
    "7035620010941": "low",
    "7033330086935": "sold_out",
    "7021150002853": "stores_only",
}
# Stores where the pinned "gaps" products are out of stock.
PINNED_GAPS: dict[str, frozenset[str]] = {
    "7025110118769": frozenset({"OSL-STORO", "BGO-LAGUNEN"}),
}
CampaignSlot = Literal["current", "ended", "future"]
PINNED_CAMPAIGNS: dict[str, CampaignSlot] = {
    "3017620422003": "current",
    "5449000000996": "future",
    "5000159461122": "ended",
}
# name, start and end in days from the moment of seeding, share of products (per mille).
_CAMPAIGNS: dict[CampaignSlot, tuple[str, int, int, int]] = {
    "current": ("Ukens tilbud", -2, 14, 100),
    "ended": ("Forrige måneds kupp", -40, -10, 50),
    "future": ("Neste måneds kupp", 12, 26, 50),
}
# Regular price bands in NOK øre by what the product is (first match wins), matched against
# its category labels and name in lower case.
_PRICE_BANDS: tuple[tuple[re.Pattern[str], int, int], ...] = tuple(
    (re.compile(pattern), low, high)
    for pattern, low, high in (
        (r"\bost\b|brunost|hvitost|gulost|geitost|kremost|chees|käse|fromage|meat|kjøtt"
         r"|fisk|fish|seafood|laks|salmon|\bham\b|sausage|pølse|coffee|kaffe", 4990, 8990),
        (r"chocolat|sjokolade|schokolade|cand(?:y|ies)|confection|snack|biscuit|cookie|kjeks"
         r"|nøtt|\bnuts?\b|chips", 2490, 5990),
        (r"beverage|drink|drikk|water|\bvann\b|juice|soda|\bbrus|saft|\btea\b", 1990, 4990),
        (r"dair|milk|melk|mjölk|yog|rømme|fløte|grädd|cream", 1990, 3990),
        (r"bread|brød|bröd|knäcke|cereal|müsli|granola|pasta|\bris\b|\brice\b", 2490, 4990),
    )
)  # fmt: skip
_DEFAULT_BAND = (1990, 8990)
# Rough NOK → currency factors so demo prices look plausible in other currencies too.
_PRICE_SCALE = {"NOK": 1.0, "SEK": 1.0, "DKK": 0.65, "EUR": 0.09, "USD": 0.1, "GBP": 0.075}
# Any fixed number: serialises concurrent seeders on PostgreSQL.
_SEED_LOCK_KEY = 7_413_205_002
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What ``seed_demo`` created; ``seeded`` is False when stores already existed."""

    seeded: bool
    stores: int = 0
    products: ImportReport | None = None
    prices: int = 0
    campaign_prices: int = 0
    stock_levels: int = 0


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:8], "big")


def stock_profile(gtin: str) -> StockProfile:
    """Return the demo stock profile of a product, from its 13/8/14-digit display barcode."""
    if gtin in PINNED_PROFILES:
        return PINNED_PROFILES[gtin]
    roll = _hash("stock", gtin) % 100
    return next(profile for bound, profile in _PROFILE_SHARES if roll < bound)


def demo_stock(gtin: str, store_codes: list[str]) -> dict[str | None, int]:
    """Return on-hand units per store code (None: the online warehouse) for one product."""
    profile = stock_profile(gtin)

    def units(where: str, low: int, high: int) -> int:
        return low + _hash("units", gtin, where) % (high - low + 1)

    online = units("online", 20, 240)
    stores: dict[str | None, int] = {code: units(code, 6, 48) for code in store_codes}
    if profile == "gaps":
        out = PINNED_GAPS.get(gtin) or {c for c in store_codes if _hash("gap", gtin, c) % 2 == 0}
        out = set(out) or {store_codes[0]}
        if out >= set(store_codes):
            out.discard(store_codes[-1])
        stores = {code: 0 if code in out else n for code, n in stores.items()}
    elif profile == "online_only":
        stores = dict.fromkeys(store_codes, 0)
    elif profile == "low":
        stores = {code: units(code, 1, 3) for code in store_codes}
        online = units("online", 1, 3)
    elif profile == "sold_out":
        stores, online = dict.fromkeys(store_codes, 0), 0
    elif profile == "stores_only":
        online = 0
    return {**stores, None: online}


def demo_price(gtin: str, name: str, categories: list[str], currency: str) -> int:
    """Return a plausible regular price in minor units, ending in ,90, from the barcode."""
    haystack = " ".join([*categories, name]).lower()
    low, high = next(
        ((lo, hi) for pattern, lo, hi in _PRICE_BANDS if pattern.search(haystack)),
        _DEFAULT_BAND,
    )
    steps = (high - low) // 100 + 1
    nok = low + (_hash("price", gtin) % steps) * 100
    scale = _PRICE_SCALE.get(currency, 1.0)
    if scale == 1.0:
        return nok
    return max(math.ceil(nok * scale / 100) * 100 - 10, 90)


def campaign_slot(gtin: str) -> CampaignSlot | None:
    """Return which demo campaign (if any) lowers this product's price."""
    if gtin in PINNED_CAMPAIGNS:
        return PINNED_CAMPAIGNS[gtin]
    roll = _hash("campaign", gtin) % 1000
    bound = 0
    for slot, (_, _, _, share) in _CAMPAIGNS.items():
        bound += share
        if roll < bound:
            return slot
    return None


def campaign_amount(gtin: str, regular: int) -> int:
    """Return a price 15–30% below ``regular``, ending in ,90 where that stays in the range."""
    percent = 15 + _hash("discount", gtin) % 16
    lowered = regular * (100 - percent) // 100
    below = (lowered - 90) // 100 * 100 + 90  # the nearest price ending in ,90 at or below
    for candidate in (below, below + 100):
        if 0 < candidate and regular * 70 <= candidate * 100 <= regular * 85:
            return candidate
    return lowered


def demo_barcodes(path: Path = DEMO_PRODUCTS) -> Iterator[str]:
    """Yield the canonical GTIN-14 of every valid barcode in the demo file, streaming it."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield parse_gtin(str(json.loads(line)["code"])).digits
            except (InvalidGtin, ValueError, KeyError):
                continue


async def seed_demo(
    db: Database, settings: Settings, *, on_progress: ProgressCallback | None = None
) -> SeedReport:
    """Load the demo stores, products, prices, campaigns and stock once; skip when stores exist."""
    async with db.transaction(write=False) as session:
        if await _has_stores(session):
            return SeedReport(seeded=False)
    products = await import_catalog(
        db, DEMO_PRODUCTS, currency=settings.currency, on_progress=on_progress
    )
    async with db.transaction(write=True) as session:
        if not db.is_sqlite:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK_KEY}
            )
        if await _has_stores(session):
            return SeedReport(seeded=False, products=products)
        return await _seed_shop(session, settings.currency, products)


async def demo_is_seeded(db: Database) -> bool:
    """Return whether ``seed_demo`` has nothing left to do (any store exists)."""
    async with db.transaction(write=False) as session:
        return await _has_stores(session)


async def _has_stores(session: AsyncSession) -> bool:
    return bool((await session.execute(select(func.count()).select_from(Store))).scalar_one())


async def _seed_shop(session: AsyncSession, currency: str, products: ImportReport) -> SeedReport:
    now = utcnow().replace(second=0, microsecond=0)
    location_ids: dict[str | None, int] = {}
    for store in DEMO_STORES:
        store_id = (
            await session.execute(
                insert(Store)
                .values(code=store.code, name=store.name, address=store.address, city=store.city)
                .returning(Store.id)
            )
        ).scalar_one()
        location_ids[store.code] = await _add_location(session, store.code, store_id)
    location_ids[None] = await _add_location(session, ONLINE_LOCATION_CODE, None)
    campaign_ids: dict[CampaignSlot, int] = {}
    for slot, (name, start_days, end_days, _) in _CAMPAIGNS.items():
        campaign_ids[slot] = (
            await session.execute(
                insert(Campaign)
                .values(
                    name=name,
                    starts_at=now + timedelta(days=start_days),
                    ends_at=now + timedelta(days=end_days),
                )
                .returning(Campaign.id)
            )
        ).scalar_one()

    store_codes = [s.code for s in DEMO_STORES]
    counts = {"prices": 0, "campaign_prices": 0, "stock_levels": 0}
    all_ids: set[int] = set()
    for chunk in _chunks(demo_barcodes(), _CHUNK):
        rows = [r for r in await _demo_products(session, chunk, currency) if r[0] not in all_ids]
        prices: list[dict[str, Any]] = []
        offers: list[dict[str, Any]] = []
        levels: list[dict[str, Any]] = []
        for product_id, gtin, name, categories, existing in rows:
            all_ids.add(product_id)
            regular = existing
            if regular is None:
                regular = demo_price(gtin, name, categories, currency)
                prices.append({"product_id": product_id, "currency": currency, "amount": regular})
            offer_slot = campaign_slot(gtin)
            if offer_slot is not None:
                amount = campaign_amount(gtin, regular)
                offers.append({"campaign_id": campaign_ids[offer_slot], "product_id": product_id,
                               "currency": currency, "amount": amount})  # fmt: skip
            for code, on_hand in demo_stock(gtin, store_codes).items():
                levels.append({"location_id": location_ids[code], "product_id": product_id,
                               "on_hand": on_hand, "reserved": 0, "updated_at": now})  # fmt: skip
        for model, values, key in (
            (Price, prices, "prices"),
            (CampaignPrice, offers, "campaign_prices"),
            (StockLevel, levels, "stock_levels"),
        ):
            if values:
                await session.execute(insert(cast(Table, model.__table__)), values)
                counts[key] += len(values)
    await record_product_changes(session, all_ids)
    return SeedReport(seeded=True, stores=len(DEMO_STORES), products=products, **counts)


async def _add_location(session: AsyncSession, code: str, store_id: int | None) -> int:
    stmt = (
        insert(StockLocation)
        .values(code=code, store_id=store_id, online=store_id is None)
        .returning(StockLocation.id)
    )
    return (await session.execute(stmt)).scalar_one()


async def _demo_products(
    session: AsyncSession, gtins: list[str], currency: str
) -> list[tuple[int, str, str, list[str], int | None]]:
    """Return (id, display barcode, name, categories, existing price) of each product once."""
    stmt = (
        select(ProductBarcode.gtin, Product.id, Product.name, Product.categories, Price.amount)
        .join(Product, Product.id == ProductBarcode.product_id)
        .outerjoin(Price, (Price.product_id == Product.id) & (Price.currency == currency))
        .where(ProductBarcode.gtin.in_(gtins))
        .order_by(Product.id)
    )
    found: dict[int, tuple[int, str, str, list[str], int | None]] = {}
    for gtin, product_id, name, categories, amount in await session.execute(stmt):
        display = parse_gtin(gtin).display
        found.setdefault(product_id, (product_id, display, name, list(categories or []), amount))
    return list(found.values())


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
