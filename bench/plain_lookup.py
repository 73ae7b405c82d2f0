"""The baseline of bench/lookup.py: the PWA's product page as a plain Starlette JSON route.

``GET /bench/product/{gtin}?storeId=ID`` answers exactly the JSON ``/graphql`` answers for the
product screen's document (``static/js/screens/product.js``) — same fields, same values —
from the same read model (``runtime.pages``: cache, one page read), without GraphQL.
``create_bench_app`` is the real app with this route mounted in front, so one server process
serves the floor, the page and the baseline alike.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnicart.app import create_app
from schema.ids import decode_id, encode_id
from server import catalog, pricing
from server.config import Settings
from server.gtin import parse_gtin
from server.models import utcnow
from server.money import format_money
from server.pack_size import parse_pack, price_per_unit
from server.product_pages import PageRead
from server.runtime import Runtime

PLAIN_PATH = "/bench/product/{gtin}"


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "formatted": format_money(amount, currency)}


def _price(info: pricing.PriceInfo) -> dict[str, Any]:
    campaign = info.campaign
    return {
        "regular": _money(info.regular, info.currency),
        "current": _money(info.current, info.currency),
        "campaign": {
            "name": campaign.name,
            "startsAt": campaign.starts_at.isoformat() if campaign.starts_at else None,
            "endsAt": campaign.ends_at.isoformat() if campaign.ends_at else None,
        }
        if campaign
        else None,
    }


def _level(available: int, threshold: int, store: dict[str, Any] | None) -> dict[str, Any]:
    level: dict[str, Any] = {
        "available": available,
        "status": catalog.stock_status(available, threshold),
    }
    if store is not None:
        level["store"] = store
    return level


def _unit_price(info: pricing.PriceInfo, quantity: str | None) -> dict[str, Any] | None:
    pack = parse_pack(quantity)
    if pack is None:
        return None
    return {
        "price": {"amount": price_per_unit(info.current, pack), "currency": info.currency},
        "unit": {"kg": "KILOGRAM", "l": "LITRE", "piece": "PIECE"}[pack.unit],
    }


def _availability(read: PageRead, here_id: int | None, threshold: int) -> dict[str, Any]:
    here = read.available_at(here_id) if here_id is not None else None
    return {
        "here": _level(
            here[1], threshold, {"id": encode_id("Store", here[0].id), "name": here[0].name}
        )
        if here
        else None,
        "online": _level(read.online, threshold, None),
        "stores": [
            _level(
                available,
                threshold,
                {
                    "id": encode_id("Store", view.id),
                    "code": view.code,
                    "name": view.name,
                    "city": view.city,
                },
            )
            for view, available in read.stores
        ],
    }


async def product_page(runtime: Runtime, code: str, here_id: int | None) -> dict[str, Any] | None:
    """Return the product screen's data for a scanned code, as GraphQL's ``data.product``.

    Read the way GraphQL reads it: from the read model (``runtime.pages``), so the two
    compare like with like.
    """
    read = await runtime.pages.read(parse_gtin(code))
    if read is None:
        return None
    page = read.page
    gtin = page.printed[0] if page.printed else ""
    price = page.price_at(utcnow())
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
        "availability": _availability(read, here_id, runtime.settings.low_stock_threshold),
    }


async def plain_product(request: Request) -> JSONResponse:
    """Answer the product page for ``{gtin}`` (and ``?storeId=``) as plain JSON."""
    runtime: Runtime = request.app.state.runtime
    store = request.query_params.get("storeId")
    here_id = decode_id(store, "Store", field="storeId") if store else None
    page = await product_page(runtime, request.path_params["gtin"], here_id)
    return JSONResponse({"data": {"product": page}})


def create_bench_app() -> Starlette:
    """Return the app ``omnicart serve`` runs, with the plain product route mounted first."""
    app = create_app(Settings())
    app.router.routes.insert(0, Route(PLAIN_PATH, plain_product, methods=["GET"]))
    return app
