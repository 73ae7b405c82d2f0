"""The baseline of bench/lookup.py: the same product page as a hand-written Starlette JSON route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from search import create_engine
from server import catalog, pricing
from server.config import Settings
from server.db import Database
from server.gtin import Gtin, parse_gtin
from server.indexing import build_document


def create_plain_app() -> Starlette:
    """Serve ``GET /product/{gtin}?store=ID`` with price, availability and alternatives."""
    settings = Settings()
    db = Database.from_settings(settings)
    engine = create_engine(settings.search_url, settings.data_dir, None)

    async def product(request: Request) -> JSONResponse:
        gtin = parse_gtin(request.path_params["gtin"])
        store_id = int(request.query_params.get("store", "0")) or None
        async with db.transaction(write=False) as session:
            row = await catalog.product_by_gtin(session, gtin)
            if row is None:
                return JSONResponse({"product": None})
            codes = (await catalog.barcodes_by_product(session, [row.id]))[row.id]
            price = (await pricing.unit_prices(session, [row.id], settings.currency))[row.id]
            figures = (await catalog.stock_by_product(session, [row.id]))[row.id]
            stores = await catalog.list_stores(session)
            doc = build_document(row, codes, price, figures, settings.currency)
            similar = await engine.similar(doc, store_id=store_id, limit=5)
            alt_rows = await catalog.products_by_ids(session, similar)
            alt_codes = await catalog.barcodes_by_product(session, similar)
            alt_prices = await pricing.unit_prices(session, similar, settings.currency)
        alternatives = [
            {
                "gtin": str(Gtin(alt_codes[i][0])),
                "name": alt_rows[i].name,
                "price": {"current": alt_prices[i].current if i in alt_prices else 0},
            }
            for i in similar
            if i in alt_rows
        ]
        by_store = {f.store_id: f for f in figures if not f.online}
        online = next((f.available for f in figures if f.online), 0)
        threshold = settings.low_stock_threshold
        levels = [
            {
                "store": {"code": s.code, "name": s.name},
                "available": by_store[s.id].available if s.id in by_store else 0,
            }
            for s in stores
        ]
        for level in levels:
            level["status"] = catalog.stock_status(int(level["available"]), threshold)  # type: ignore[arg-type]
        here = next((lv for s, lv in zip(stores, levels, strict=True) if s.id == store_id), None)
        return JSONResponse(
            {
                "product": {
                    "gtin": str(Gtin(codes[0])),
                    "name": row.name,
                    "brand": row.brand,
                    "price": {"regular": price.regular, "current": price.current},
                    "availability": {
                        "here": here,
                        "online": {
                            "available": online,
                            "status": catalog.stock_status(online, threshold),
                        },
                        "stores": levels,
                    },
                    "alternatives": alternatives,
                }
            }
        )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.close()
        await db.dispose()

    return Starlette(
        routes=[Route("/product/{gtin}", product), Route("/healthz", healthz)], lifespan=lifespan
    )
