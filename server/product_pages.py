"""The product-page read model: what a scan answers, kept ready per product.

One row per active product in ``product_pages`` holds a JSON document with the product's
own fields, its barcodes (primary first), its regular price and every campaign offer not
yet over. The indexer writes it when it drains the outbox (``server.indexing``), in the
transaction that deletes the outbox rows it consumed, and ``omnicart reindex`` rebuilds
it, so a crash (even ``kill -9``) leaves either the old page with its outbox rows still
pending or the new page without them.

What the document does not bake in, so it is never stale:

* **stock**: a page read joins the live ``stock_levels`` rows (``server.page_reads``);
* **campaign windows**: the stored offers are evaluated at read time (``PageData.price_at``),
  so a campaign that starts or ends shows on the next read without any rebuild;
* **changes not yet drained**: a read that finds an outbox row still pending for the
  product reads the catalog tables instead (``read_from_catalog``), so a price, name or
  barcode change is visible on the next read, not after the indexer's next round.

Each row carries ``read_at``, when the state it was built from was read; a write never
replaces a page built from a later read (two indexers may finish out of order). Not outbox
ids: SQLite hands out the same ids again once the outbox is empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog, pricing
from server.db import upsert
from server.gtin import Gtin
from server.models import (
    Price,
    Product,
    ProductPage,
    Store,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Offer:
    """A campaign price of the product, applying inside the campaign's window."""

    amount: int
    campaign: pricing.CampaignInfo

    def runs_at(self, moment: datetime) -> bool:
        """Return True inside the window: start included, end excluded, open sides unbounded."""
        starts, ends = self.campaign.starts_at, self.campaign.ends_at
        return (starts is None or starts <= moment) and (ends is None or moment < ends)


@dataclass(frozen=True, slots=True)
class PageData:
    """A product's page without its stock: the decoded read-model document."""

    product_id: int
    name: str
    brand: str | None
    description: str | None
    categories: tuple[str, ...]
    quantity: str | None
    image_url: str | None
    sku: str
    gtins: tuple[str, ...]  # canonical digits, the primary one first
    currency: str
    regular: int | None  # None: no price in the currency (shown as zero)
    offers: tuple[Offer, ...]  # in campaign id order, so a tie goes to the older campaign
    printed: tuple[str, ...] = ()  # the barcodes as printed (``str(Gtin)``), worked out once

    def __post_init__(self) -> None:
        if not self.printed:
            object.__setattr__(self, "printed", tuple(str(Gtin(c)) for c in self.gtins))

    def price_at(self, moment: datetime, *, member: bool = False) -> pricing.PriceInfo:
        """Return the price in force at ``moment`` by the rules of ``server.pricing``.

        A members' campaign lowers the price for ``member`` only; for others it is the
        ``member`` nudge of the price.
        """
        if self.regular is None:
            return pricing.not_for_sale(self.currency)
        running = [(o.amount, o.campaign) for o in self.offers if o.runs_at(moment)]
        return pricing.priced_for(self.currency, self.regular, running, member=member)


@dataclass(frozen=True, slots=True)
class StoreView:
    """A store as the product page shows it."""

    id: int
    code: str
    name: str
    address: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class PageRead:
    """A product page as read now: the document, stock in every store (by name) and online."""

    page: PageData
    stores: tuple[tuple[StoreView, int], ...]  # every store with its available units
    online: int  # available units in the online warehouse

    def available_at(self, store_id: int) -> tuple[StoreView, int] | None:
        """Return the store and its available units, or None for a store that does not exist."""
        return next((entry for entry in self.stores if entry[0].id == store_id), None)


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def encode_page(page: PageData) -> str:
    """Return the JSON document stored for ``page``."""
    return json.dumps(
        {
            "id": page.product_id,
            "name": page.name,
            "brand": page.brand,
            "description": page.description,
            "categories": list(page.categories),
            "quantity": page.quantity,
            "imageUrl": page.image_url,
            "sku": page.sku,
            "gtins": list(page.gtins),
            "currency": page.currency,
            "regular": page.regular,
            "offers": [
                [
                    o.amount,
                    o.campaign.id,
                    o.campaign.name,
                    o.campaign.starts_at.isoformat() if o.campaign.starts_at else None,
                    o.campaign.ends_at.isoformat() if o.campaign.ends_at else None,
                    o.campaign.members_only,
                ]
                for o in page.offers
            ],
        },
        separators=(",", ":"),
    )


def decode_page(document: str) -> PageData:
    """Return the page a stored JSON document describes."""
    d = json.loads(document)
    return PageData(
        product_id=d["id"],
        name=d["name"],
        brand=d["brand"],
        description=d["description"],
        categories=tuple(d["categories"]),
        quantity=d["quantity"],
        image_url=d["imageUrl"],
        sku=d["sku"],
        gtins=tuple(d["gtins"]),
        currency=d["currency"],
        regular=d["regular"],
        offers=tuple(
            Offer(
                amount,
                # Pages written before members' campaigns have no flag: public offers.
                pricing.CampaignInfo(
                    cid, name, _moment(starts), _moment(ends), bool(rest and rest[0])
                ),
            )
            for amount, cid, name, starts, ends, *rest in d["offers"]
        ),
    )


async def _offers(
    session: AsyncSession, ids: Sequence[int], currency: str, moment: datetime
) -> dict[int, list[Offer]]:
    """Return each product's campaign offers in ``currency`` that are not over at ``moment``."""
    offers = await pricing.campaign_offers(session, ids, currency, not_over_at=moment)
    return {pid: [Offer(amount, info) for amount, info in found] for pid, found in offers.items()}


async def build_pages(
    session: AsyncSession, product_ids: Iterable[int], currency: str
) -> tuple[dict[int, PageData], list[int]]:
    """Return the pages of the active products among ``product_ids`` and the ids without one."""
    ids = set(product_ids)
    products = await catalog.products_by_ids(session, ids)
    live = sorted((p for p in products.values() if p.active), key=lambda p: p.id)
    live_ids = [p.id for p in live]
    if not live_ids:
        return {}, sorted(ids)
    barcodes = await catalog.barcodes_by_product(session, live_ids)
    regular_rows = await session.execute(
        select(Price.product_id, Price.amount).where(
            Price.product_id.in_(live_ids), Price.currency == currency
        )
    )
    regular: dict[int, int] = {pid: amount for pid, amount in regular_rows}
    offers = await _offers(session, live_ids, currency, utcnow())
    pages = {p.id: _page_of(p, barcodes.get(p.id, []), currency, regular, offers) for p in live}
    return pages, sorted(ids - set(live_ids))


def _page_of(
    product: Product,
    gtins: Sequence[str],
    currency: str,
    regular: Mapping[int, int],
    offers: Mapping[int, list[Offer]],
) -> PageData:
    return PageData(
        product_id=product.id,
        name=product.name,
        brand=product.brand,
        description=product.description,
        categories=tuple(product.categories or ()),
        quantity=product.quantity,
        image_url=product.image_url,
        sku=product.sku,
        gtins=tuple(gtins),
        currency=currency,
        regular=regular.get(product.id),
        offers=tuple(offers.get(product.id, ())),
    )


async def write_pages(
    session: AsyncSession,
    pages: Iterable[PageData],
    gone: Iterable[int],
    *,
    read_at: datetime,
    search_stock: Mapping[int, str] | None = None,
) -> None:
    """Store these pages and drop those of ``gone``, built from state read at ``read_at``.

    ``search_stock`` holds the stock filters the search engine got with each page's
    document (``server.indexing``); a page without is stored as not known. A stored page
    built from a later read is kept. Flushes only.
    """
    sent = search_stock or {}
    values = [
        {
            "product_id": p.product_id,
            "document": encode_page(p),
            "read_at": read_at,
            "search_stock": sent.get(p.product_id),
        }
        for p in pages
    ]
    if values:
        stmt = upsert(session, ProductPage.__table__).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["product_id"],
            set_={
                "document": stmt.excluded.document,
                "read_at": stmt.excluded.read_at,
                "search_stock": stmt.excluded.search_stock,
            },
            where=ProductPage.__table__.c.read_at <= stmt.excluded.read_at,
        )
        await session.execute(stmt)
    dropped = sorted(set(gone))
    if dropped:
        await session.execute(
            delete(ProductPage).where(
                ProductPage.product_id.in_(dropped), ProductPage.read_at <= read_at
            )
        )


async def read_from_catalog(
    session: AsyncSession, product_id: int, currency: str
) -> PageRead | None:
    """Return the page of one product read from the catalog tables (a change is pending)."""
    pages, _ = await build_pages(session, [product_id], currency)
    page = pages.get(product_id)
    if page is None:
        return None
    figures = (await catalog.stock_by_product(session, [product_id])).get(product_id, [])
    stores = await catalog.list_stores(session)
    return page_read(page, figures, stores)


def page_read(
    page: PageData, figures: Sequence[catalog.StockFigure], stores: Sequence[Store]
) -> PageRead:
    """Return the page with the given stock figures over every store (stores by name)."""
    by_store = {f.store_id: f.available for f in figures if not f.online}
    online = next((f.available for f in figures if f.online), 0)
    views = tuple(
        (StoreView(s.id, s.code, s.name, s.address, s.city), by_store.get(s.id, 0)) for s in stores
    )
    return PageRead(page=page, stores=views, online=online)
