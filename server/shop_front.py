"""The shop front's lists: this store's campaign offers, and the categories to browse.

* **Campaign offers at a store**: active products with a campaign running now (started, not
  ended: the window rule of ``server.pricing``) whose campaign price in the currency is below
  the regular price, and that the store has available (on hand minus reserved above zero),
  so the front only advertises what the shopper can take off the shelf there. Members'
  campaigns count too (the price shown says who pays it). Ordered by name, then id.
* **Categories**: the labels that open a category path (``parent`` None), or that follow
  ``parent`` directly in some path. Each counts the active products whose path holds the
  label (and ``parent``) anywhere, which is the rule the search filter applies, so tapping
  a category finds exactly that many hits. ``in_stock_at`` counts only products that store
  has available. Most products first, ties by label. The database does the counting: the
  category labels of each product are unnested with ``json_each`` (SQLite) or
  ``jsonb_array_elements_text`` (PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from server.catalog import location_for_store
from server.models import Campaign, CampaignPrice, Price, Product, StockLevel, utcnow

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class ProductPage:
    """Product ids of one page, in order, and whether more follow."""

    ids: list[int]
    has_next: bool


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """A category label and how many products it holds."""

    name: str
    products: int


def _available_at(location_id: int) -> ColumnElement[bool]:
    return exists().where(
        StockLevel.product_id == Product.id,
        StockLevel.location_id == location_id,
        StockLevel.on_hand - StockLevel.reserved > 0,
    )


def _running_offer(currency: str, at: datetime) -> ColumnElement[bool]:
    return exists().where(
        CampaignPrice.product_id == Product.id,
        CampaignPrice.currency == currency,
        CampaignPrice.campaign_id == Campaign.id,
        Price.product_id == Product.id,
        Price.currency == currency,
        CampaignPrice.amount < Price.amount,
        or_(Campaign.starts_at.is_(None), Campaign.starts_at <= at),
        or_(Campaign.ends_at.is_(None), Campaign.ends_at > at),
    )


async def campaign_products(
    session: AsyncSession,
    store_id: int,
    currency: str,
    *,
    offset: int = 0,
    limit: int = 20,
    at: datetime | None = None,
) -> ProductPage:
    """Return a page of the products on a running campaign that the store has available."""
    location = await location_for_store(session, store_id)
    if location is None or limit <= 0:
        return ProductPage([], False)
    stmt = (
        select(Product.id)
        .where(
            Product.active.is_(True),
            _running_offer(currency, at or utcnow()),
            _available_at(location.id),
        )
        .order_by(Product.name, Product.id)
        .offset(offset)
        .limit(limit + 1)
    )
    ids = list((await session.execute(stmt)).scalars())
    return ProductPage(ids[:limit], len(ids) > limit)


def _labels(
    session: AsyncSession, alias: str, categories: Any = Product.categories
) -> tuple[Any, ColumnElement[Any], Any]:
    """Return one product's category labels as a table: (table, position from 0, label)."""
    if session.get_bind().dialect.name == "postgresql":
        table = (
            func.jsonb_array_elements_text(categories)
            .table_valued("value", with_ordinality="ord")
            .render_derived(alias)
        )
        return table, table.c.ord - 1, table.c.value
    table = func.json_each(categories).table_valued("key", "value").alias(alias)
    return table, table.c.key, table.c.value


async def category_counts(
    session: AsyncSession,
    *,
    parent: str | None = None,
    in_stock_at: int | None = None,
    limit: int = 30,
) -> list[CategoryCount]:
    """Return the categories under ``parent`` (None: the top) with their product counts."""
    conditions: list[ColumnElement[bool]] = [Product.active.is_(True)]
    if in_stock_at is not None:
        location = await location_for_store(session, in_stock_at)
        if location is None:
            return []
        conditions.append(_available_at(location.id))
    # The labels that open a path (or follow the parent), over every product: an own alias,
    # so the subquery is not correlated with the counted product.
    every = aliased(Product, name="every_product")
    opening, opening_at, opening_label = _labels(session, "opening", every.categories)
    heads = select(opening_label).select_from(every).join(opening, true())
    if parent is None:
        heads = heads.where(opening_at == 0)
    else:
        above, above_at, above_label = _labels(session, "above", every.categories)
        heads = heads.join(above, true()).where(above_label == parent, opening_at == above_at + 1)
        conditions.append(_holds(session, parent))
    # Every label's count first, then the heads among them: counting inside a grouped
    # subquery keeps PostgreSQL from scanning the stock once per head.
    held, _, label = _labels(session, "held")
    grouped = (
        select(label.label("name"), func.count(func.distinct(Product.id)).label("products"))
        .select_from(Product)
        .join(held, true())
        .where(*conditions)
        .group_by(label)
        .subquery("grouped")
    )
    stmt = (
        select(grouped.c.name, grouped.c.products)
        .where(grouped.c.name.in_(heads.distinct().scalar_subquery()))
        .order_by(grouped.c.products.desc(), grouped.c.name)
        .limit(limit)
    )
    return [CategoryCount(name, n) for name, n in await session.execute(stmt)]


def _holds(session: AsyncSession, label: str) -> ColumnElement[bool]:
    table, _, value = _labels(session, "parent_held")
    return exists(select(1).select_from(table).where(value == label))
