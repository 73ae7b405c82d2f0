"""What a checkout orders, read by the version bump that locks the cart: no read of its own.

The bump's RETURNING (``server.carts.versioning.bump_version``) carries two scalar
subqueries: the cart's lines, each with its product's read-model page
(``server.product_pages``) and whether a change of the product is still pending in the
outbox (``server.outbox.pending_change``: a change of stock only does not count, a page
bakes in no stock), and the stock location the order reserves at with its store's name. A page that
is there, current (nothing pending) and in the checkout's currency prices its lines as the
catalog would (campaign windows and member prices are evaluated now, by
``PageData.price_at``); only products without one are read from the catalog tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, column, text
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog, pricing
from server.db import decode_json_rows, json_rows
from server.orders.requests import CartLineSnapshot, ClickAndCollect, Fulfilment
from server.outbox import pending_change
from server.product_pages import decode_page

_PENDING = pending_change("l.product_id")


@dataclass(frozen=True, slots=True)
class Goods:
    """A product as an order line snapshots it: name, whether sold, barcode, price in force."""

    name: str
    active: bool
    gtin: str
    # None: no price in the currency (not for sale).
    price: pricing.PriceInfo | None


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """The cart's lines, where to reserve, and the goods of every product the pages knew."""

    lines: list[CartLineSnapshot]
    # (location id, store name) or None when there is no such store or warehouse.
    location: tuple[int, str | None] | None
    goods: dict[int, Goods]


def plan_returning(session: AsyncSession, collect: bool) -> list[Any]:
    """Return the two RETURNING expressions of a checkout's version bump (see the module).

    ``collect``: click and collect, whose store is bound at execution as ``plan_store``
    (``plan_values``), so the statement is built once per dialect and fulfilment kind.
    """
    pg = session.get_bind().dialect.name == "postgresql"
    no, yes = ("false", "true") if pg else ("0", "1")
    lines = json_rows(
        session,
        f"l.id, l.product_id, l.quantity, l.created_at, p.document, {_PENDING}",
        "FROM cart_lines l LEFT JOIN product_pages p ON p.product_id = l.product_id "
        "WHERE l.cart_id = carts.id",
    )
    where = f"sl.store_id = :plan_store AND sl.online = {no}" if collect else f"sl.online = {yes}"
    # Text with a bind parameter (``json_rows`` takes none): SQL of the same aggregate.
    found = json_rows(
        session,
        "sl.id, s.name",
        f"FROM stock_locations sl LEFT JOIN stores s ON s.id = sl.store_id WHERE {where}",
    ).name
    select_location = text(found[1:-1])
    if collect:
        select_location = select_location.bindparams(bindparam("plan_store", type_=Integer))
    return [lines, select_location.columns(column("location")).scalar_subquery()]


def plan_values(fulfilment: Fulfilment) -> dict[str, Any]:
    """Return the values of ``plan_returning``'s bind parameters for this fulfilment."""
    if isinstance(fulfilment, ClickAndCollect):
        return {"plan_store": fulfilment.store_id}
    return {}


def decode_plan(
    extra: Sequence[Any], *, now: datetime, currency: str, member: bool
) -> tuple[ReadPlan, list[int]]:
    """Return the plan the bump returned and the products whose page could not be used."""
    lines: list[CartLineSnapshot] = []
    goods: dict[int, Goods] = {}
    unknown: set[int] = set()
    for line_id, product_id, quantity, created_at, document, pending in sorted(
        decode_json_rows(extra[0]), key=lambda row: int(row[0])
    ):
        lines.append(
            CartLineSnapshot(int(line_id), int(product_id), int(quantity), _at(created_at))
        )
        page = decode_page(document) if document is not None and not pending else None
        if page is None or page.currency != currency:
            unknown.add(int(product_id))
            continue
        price = page.price_at(now, member=member) if page.regular is not None else None
        goods[page.product_id] = Goods(page.name, True, page.gtins[0] if page.gtins else "", price)
    places = sorted(decode_json_rows(extra[1]), key=lambda row: int(row[0]))
    location = (int(places[0][0]), places[0][1]) if places else None
    return ReadPlan(lines, location, goods), sorted(unknown)


async def goods_from_catalog(
    session: AsyncSession,
    product_ids: Sequence[int],
    currency: str,
    *,
    now: datetime,
    member: bool,
) -> dict[int, Goods]:
    """Read the goods of products without a usable page from the catalog tables."""
    if not product_ids:
        return {}
    products = await catalog.products_by_ids(session, product_ids)
    prices = await pricing.unit_prices(session, product_ids, currency, at=now, member=member)
    barcodes = await catalog.barcodes_by_product(session, product_ids)
    return {
        pid: Goods(product.name, product.active, (barcodes.get(pid) or [""])[0], prices.get(pid))
        for pid, product in products.items()
    }


def _at(value: Any) -> datetime:
    """Return a timestamp of the JSON rows as an aware UTC datetime (SQLite keeps no zone)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
