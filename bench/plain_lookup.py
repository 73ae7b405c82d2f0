"""The baseline of bench/lookup.py: the PWA's product page as a plain Starlette JSON route.

``GET /bench/product/{gtin}?storeId=ID`` answers exactly the JSON ``/graphql`` answers for the
product screen's document (``static/js/screens/product.js``) — same fields, same values —
from the same catalog services and the same database session set-up, without GraphQL.
``create_bench_app`` is the real app with this route mounted in front, so one server process
serves the floor, the page and the baseline alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnicart.app import create_app
from schema.ids import decode_id, encode_id
from server import catalog, pricing
from server.config import Settings
from server.gtin import Gtin, parse_gtin
from server.models import Store
from server.money import format_money
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


def _availability(
    figures: list[catalog.StockFigure], stores: list[Store], here_id: int | None, threshold: int
) -> dict[str, Any]:
    by_store = {f.store_id: f.available for f in figures if not f.online}
    online = next((f.available for f in figures if f.online), 0)
    here = next((s for s in stores if s.id == here_id), None)
    return {
        "here": _level(
            by_store.get(here.id, 0),
            threshold,
            {"id": encode_id("Store", here.id), "name": here.name},
        )
        if here
        else None,
        "online": _level(online, threshold, None),
        "stores": [
            _level(
                by_store.get(s.id, 0),
                threshold,
                {"id": encode_id("Store", s.id), "name": s.name, "city": s.city},
            )
            for s in stores
        ],
    }


async def product_page(
    session: AsyncSession, settings: Settings, code: str, here_id: int | None
) -> dict[str, Any] | None:
    """Return the product screen's data for a scanned code, as GraphQL's ``data.product``."""
    row = await catalog.product_by_gtin(session, parse_gtin(code))
    if row is None:
        return None
    codes = (await catalog.barcodes_by_product(session, [row.id])).get(row.id, [])
    price = (await pricing.unit_prices(session, [row.id], settings.currency)).get(row.id)
    figures = (await catalog.stock_by_product(session, [row.id])).get(row.id, [])
    stores = list(await catalog.list_stores(session))
    gtin = str(Gtin(codes[0])) if codes else ""
    return {
        "id": encode_id("Product", row.id),
        "gtin": gtin,
        "gtins": [str(Gtin(c)) for c in codes],
        "name": row.name,
        "brand": row.brand,
        "description": row.description,
        "categories": list(row.categories or []),
        "quantity": row.quantity,
        "imageUrl": row.image_url,
        "barcodeUrl": f"/barcodes/{gtin}.svg",
        "price": _price(pricing.shown_price(price, settings.currency)),
        "availability": _availability(list(figures), stores, here_id, settings.low_stock_threshold),
    }


async def plain_product(request: Request) -> JSONResponse:
    """Answer the product page for ``{gtin}`` (and ``?storeId=``) as plain JSON."""
    runtime: Runtime = request.app.state.runtime
    store = request.query_params.get("storeId")
    here_id = decode_id(store, "Store", field="storeId") if store else None
    async with runtime.db.transaction(write=False) as session:
        page = await product_page(session, runtime.settings, request.path_params["gtin"], here_id)
    return JSONResponse({"data": {"product": page}})


def create_bench_app() -> Starlette:
    """Return the app ``omnicart serve`` runs, with the plain product route mounted first."""
    app = create_app(Settings())
    app.router.routes.insert(0, Route(PLAIN_PATH, plain_product, methods=["GET"]))
    return app
