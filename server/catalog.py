"""The catalog service: products by barcode or id, stores and availability (prices: pricing).

Codes
-----
``product_for_code`` (one code) and ``products_for_codes`` (many, a fixed number of queries)
are the one way from a scanned or typed code to a product, for lookups, scans, carts and
stock movements alike:

1. A code a catalog product carries is that product. A restricted circulation number (the
   chain's own code) may be limited to some stores (``ProductBarcodeStore``): asked with a
   ``store_id`` outside them it is not that product; asked without a store it is (staff and
   the web see the whole chain). Global GTINs are never limited.
2. Only a restricted code that no product carries (here) and that a configured template
   reads is a price or weight label: its item number is the product the store maps it to
   (``StoreItemCode``), else the product that carries the label's base code (value digits
   zeroed, ``RestrictedCode.base_code``) under rule 1; the match keeps the label, so its
   weight or price travels on. A label whose item is unknown is no product (``None``), like
   an unknown GTIN.
3. A restricted code that neither reads is ``InvalidGtin`` with reason ``restricted``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import String, Table, and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from server.db import decode_json_rows, json_rows
from server.gtin import (
    DEFAULT_TEMPLATES,
    Gtin,
    RestrictedCode,
    RestrictedTemplate,
    parse_gtin,
    read_label,
    unreadable_restricted,
)
from server.models import (
    Product,
    ProductBarcode,
    ProductBarcodeStore,
    StockLevel,
    StockLocation,
    Store,
    StoreItemCode,
)
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


@dataclass(frozen=True, slots=True)
class CodeMatch:
    """What a well-formed code is: its GTIN, the product (None: unknown), and the label read.

    ``label`` is set only when the code was read as a price or weight label (rule 2 of the
    module docstring); then ``product`` is the item the label names.
    """

    gtin: Gtin
    product: Product | None
    label: RestrictedCode | None = None


_PRODUCTS = cast(Table, Product.__table__)
_BARCODES = cast(Table, ProductBarcode.__table__)


def _valid_in(store_id: int | None) -> ColumnElement[bool]:
    """Return the condition that a barcode row is its product in this store (None: any)."""
    active = _PRODUCTS.c.active.is_(True)
    if store_id is None:
        return active
    limits = select(ProductBarcodeStore.barcode_id).where(
        ProductBarcodeStore.barcode_id == ProductBarcode.id
    )
    here = limits.where(ProductBarcodeStore.store_id == store_id)
    return and_(active, or_(~exists(limits), exists(here)))


async def product_by_gtin(
    session: AsyncSession, gtin: Gtin, store_id: int | None = None
) -> Product | None:
    """Return the active product carrying this GTIN (in this store), or None when none does."""
    stmt = (
        select(Product)
        .join(ProductBarcode, ProductBarcode.product_id == Product.id)
        .where(ProductBarcode.gtin == gtin.digits, _valid_in(store_id))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def products_by_gtins(
    session: AsyncSession, gtins: Iterable[Gtin], store_id: int | None = None
) -> dict[str, Product]:
    """Return the active products carrying these GTINs (in this store), keyed by GTIN, at once."""
    wanted = {g.digits for g in gtins}
    if not wanted:
        return {}
    stmt = (
        select(ProductBarcode.gtin, Product)
        .join(Product, ProductBarcode.product_id == Product.id)
        .where(ProductBarcode.gtin.in_(wanted), _valid_in(store_id))
    )
    return {gtin: product for gtin, product in await session.execute(stmt)}


async def product_for_code(
    session: AsyncSession,
    code: str,
    store_id: int | None = None,
    templates: Sequence[RestrictedTemplate] = DEFAULT_TEMPLATES,
) -> CodeMatch:
    """Given a scanned or typed code, return what it is in this store (rules: module docstring).

    Raises ``InvalidGtin`` for a malformed code (``parse_gtin``'s reasons) and for a
    restricted code that no product carries and no template reads (reason ``restricted``).
    """
    gtin = parse_gtin(code)
    return (await products_for_codes(session, [gtin], store_id, templates))[gtin.digits]


async def products_for_codes(
    session: AsyncSession,
    gtins: Sequence[Gtin],
    store_id: int | None = None,
    templates: Sequence[RestrictedTemplate] = DEFAULT_TEMPLATES,
) -> dict[str, CodeMatch]:
    """Return what each parsed code is in this store, keyed by GTIN digits (rules: docstring).

    One query for the codes, and at most two more for all labels together. Raises
    ``InvalidGtin`` (``restricted``) for the first code in order that nothing reads; its
    ``details["raw"]`` is that code's display form.
    """
    found = await products_by_gtins(session, gtins, store_id)
    matches = {g.digits: CodeMatch(g, found.get(g.digits)) for g in gtins}
    labels = _labels_among(gtins, found, templates)
    if labels:
        items = await _items_for_labels(session, list(labels.values()), store_id)
        for digits, label in labels.items():
            matches[digits] = CodeMatch(matches[digits].gtin, items.get(label.raw), label)
    return matches


def cart_products_json(session: AsyncSession) -> Any:
    """Return a cart add's products as a scalar subquery for the version bump's RETURNING.

    ``products_for_codes`` without a store and without templates, reading ids only (a cart
    line needs nothing else), for the codes and the product ids a request names at once
    (binds: ``cart_products_values``): one JSON array of ``[gtin, product_id]`` per active
    product found, ``gtin`` null for one named by id. ``cart_products_from_json`` reads it.
    The codes and ids travel as JSON text, so the statement is built once for any number.
    """
    if session.get_bind().dialect.name == "postgresql":
        listed = "SELECT json_array_elements_text(CAST(:{} AS json))"
        ids = "SELECT CAST(json_array_elements_text(CAST(:{} AS json)) AS integer)"
    else:
        listed = ids = "SELECT value FROM json_each(:{})"
    found = (
        "FROM (SELECT b.gtin AS gtin, b.product_id AS id FROM product_barcodes b"
        " JOIN products p ON p.id = b.product_id"
        f" WHERE p.active AND b.gtin IN ({listed.format('cart_codes')})"
        " UNION ALL SELECT NULL AS gtin, p.id AS id FROM products p"
        f" WHERE p.active AND p.id IN ({ids.format('cart_product_ids')})) f"
    )
    return json_rows(session, "f.gtin, f.id", found, binds=_CART_PRODUCT_BINDS)


_CART_PRODUCT_BINDS = (
    bindparam("cart_codes", type_=String()),
    bindparam("cart_product_ids", type_=String()),
)


def cart_products_values(gtins: Iterable[Gtin], product_ids: Iterable[int]) -> dict[str, str]:
    """Return the values of ``cart_products_json``'s bind parameters for these codes and ids."""
    return {
        "cart_codes": json.dumps([g.digits for g in gtins]),
        "cart_product_ids": json.dumps(sorted(set(product_ids))),
    }


def cart_products_from_json(value: Any, gtins: Sequence[Gtin]) -> tuple[dict[str, int], set[int]]:
    """Return (product id by GTIN digits, active product ids) from ``cart_products_json``.

    A code no product carries is missing from the first, and a restricted one is
    ``InvalidGtin`` (``restricted``), the first in order; an id is in the second when
    its product is for sale.
    """
    by_gtin: dict[str, int] = {}
    for_sale: set[int] = set()
    for gtin, product_id in decode_json_rows(value):
        if gtin is None:
            for_sale.add(int(product_id))
        else:
            by_gtin[gtin] = int(product_id)
    _labels_among(gtins, by_gtin, ())
    return by_gtin, for_sale


def _labels_among(
    gtins: Sequence[Gtin], found: Container[str], templates: Sequence[RestrictedTemplate]
) -> dict[str, RestrictedCode]:
    """Read the restricted codes no product carries as labels (rule 2), keyed by GTIN digits.

    Raises ``InvalidGtin`` (``restricted``) for the first that no template reads (rule 3).
    """
    labels: dict[str, RestrictedCode] = {}
    for gtin in gtins:
        if gtin.digits in found or not gtin.restricted:
            continue
        label = read_label(gtin.digits, templates)
        if label is None:
            raise unreadable_restricted(gtin)
        labels[gtin.digits] = label
    return labels


async def _items_for_labels(
    session: AsyncSession, labels: list[RestrictedCode], store_id: int | None
) -> dict[str, Product]:
    """Return the product each label's item number names, keyed by the label's raw code."""
    by_item: dict[str, Product] = {}
    if store_id is not None:
        stmt = (
            select(StoreItemCode.item_number, Product)
            .join(Product, Product.id == StoreItemCode.product_id)
            .where(
                StoreItemCode.store_id == store_id,
                StoreItemCode.item_number.in_({label.item_number for label in labels}),
                Product.active.is_(True),
            )
        )
        by_item = {item: product for item, product in await session.execute(stmt)}
    bases = await products_by_gtins(
        session, [Gtin(label.base_code.zfill(14)) for label in labels], store_id
    )
    found: dict[str, Product] = {}
    for label in labels:
        product = by_item.get(label.item_number) or bases.get(label.base_code.zfill(14))
        if product is not None:
            found[label.raw] = product
    return found


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
