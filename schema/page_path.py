"""A dedicated executor for the PWA's product-page document: the same answer, without GraphQL.

The product screen sends one document (``server.pwa_documents.PRODUCT_PAGE``) by its hash,
over and over, and its answer is a read-model page (``server.product_pages``) laid out field
by field. Executing it through graphql-core costs a resolver call, a completion and an
``Info`` for each of its some 60 fields; this module lays out the same JSON directly.

It answers only what it can answer exactly as the general path does, and hands everything
else back (``None``), so the general path answers it, errors included:

* the document must be the one this layout was written for, compared by its printed AST
  (``EXPECTED``); a PWA whose document changed turns the fast path off (a test says so);
* variables exactly ``gtin`` (a string) and optionally ``storeId`` (a string or null),
  neither holding NUL; no bearer token (someone signed in may be a club member, whose price
  comes through the loaders); a global barcode (the chain's own codes follow store rules);
  a ``storeId`` that decodes to a store id; a product the page reader finds.

``tests/schema/test_page_path.py`` compares its answers with the general path's, byte for
byte, over many products, stores, campaigns and malformed inputs.
"""

from __future__ import annotations

from typing import Any

from graphql import parse, print_ast

from schema.catalog import PackUnit
from schema.ids import decode_id, encode_id
from server.catalog import stock_status
from server.errors import AppError
from server.gtin import parse_gtin
from server.models import utcnow
from server.money import format_money
from server.pack_size import parse_pack, price_per_unit
from server.page_cache import ProductPages
from server.pricing import PriceInfo
from server.product_pages import PageRead

OPERATION = "Product"
EXPECTED = print_ast(
    parse(
        """
query Product($gtin: String!, $storeId: ID) { product(gtin: $gtin) {
  id gtin gtins name brand description categories quantity imageUrl barcodeUrl
  price { regular { amount currency formatted } current { amount currency formatted }
          campaign { name startsAt endsAt } }
  unitPrice { price { amount currency } unit }
  availability(storeId: $storeId) {
    here { available status store { id name } }
    online { available status }
    stores { available status store { id code name city } }
  } } }
"""
    )
)


def matches(text: str) -> bool:
    """Tell whether a document is the one the fast path lays out."""
    try:
        return print_ast(parse(text)) == EXPECTED
    except Exception:
        return False


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "formatted": format_money(amount, currency)}


def _price(info: PriceInfo) -> dict[str, Any]:
    campaign = info.campaign
    return {
        "regular": _money(info.regular, info.currency),
        "current": _money(info.current, info.currency),
        "campaign": None
        if campaign is None
        else {
            "name": campaign.name,
            "startsAt": campaign.starts_at.isoformat() if campaign.starts_at else None,
            "endsAt": campaign.ends_at.isoformat() if campaign.ends_at else None,
        },
    }


def _unit_price(info: PriceInfo, quantity: str | None) -> dict[str, Any] | None:
    pack = parse_pack(quantity)
    if pack is None:
        return None
    amount = price_per_unit(info.current, pack)
    return {
        "price": {"amount": amount, "currency": info.currency},
        "unit": PackUnit(pack.unit).name,
    }


def layout(read: PageRead, here_id: int | None, threshold: int) -> dict[str, Any]:
    """Return the ``product`` field's value for a page, as the general path answers it."""
    page = read.page
    gtin = page.printed[0] if page.printed else ""
    price = page.price_at(utcnow())
    here = None
    stores = []
    for view, available in read.stores:
        status = stock_status(available, threshold).value
        store_id = encode_id("Store", view.id)
        stores.append(
            {
                "available": available,
                "status": status,
                "store": {"id": store_id, "code": view.code, "name": view.name, "city": view.city},
            }
        )
        if here is None and view.id == here_id:
            here = {
                "available": available,
                "status": status,
                "store": {"id": store_id, "name": view.name},
            }
    return {
        "id": encode_id("Product", page.product_id),
        "gtin": gtin,
        "gtins": list(page.printed),
        "name": page.name,
        "brand": page.brand,
        "description": page.description,
        "categories": list(page.categories),
        "quantity": page.quantity,
        "imageUrl": page.image_url,
        "barcodeUrl": f"/barcodes/{gtin}.svg",
        "price": _price(price),
        "unitPrice": _unit_price(price, page.quantity),
        "availability": {
            "here": here,
            "online": {
                "available": read.online,
                "status": stock_status(read.online, threshold).value,
            },
            "stores": stores,
        },
    }


def _plain_variables(variables: Any) -> tuple[str, str | None] | None:
    if not isinstance(variables, dict) or not set(variables) <= {"gtin", "storeId"}:
        return None
    gtin, store = variables.get("gtin"), variables.get("storeId")
    if not isinstance(gtin, str) or "\0" in gtin:
        return None
    if store is not None and (not isinstance(store, str) or "\0" in store):
        return None
    return gtin, store


async def answer(
    pages: ProductPages,
    variables: Any,
    *,
    bearer: str | None,
    threshold: int,
) -> dict[str, Any] | None:
    """Return the operation's ``data``, or None to leave the request to the general path."""
    plain = _plain_variables(variables)
    if plain is None or bearer is not None:
        return None
    code, store = plain
    try:
        gtin = parse_gtin(code)
        here_id = decode_id(store, "Store", field="storeId") if store is not None else None
    except (AppError, ValueError):
        return None
    if gtin.restricted:
        return None
    read = await pages.read(gtin)
    if read is None:
        return None
    return {"product": layout(read, here_id, threshold)}
