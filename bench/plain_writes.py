"""The baselines of the write benches: bare Starlette routes running only a write's SQL.

Served by uvicorn like the app (``--factory bench.plain_writes:create_plain_app``), over the
database ``BENCH_DATABASE_URL`` names, through the same ``Database`` layer (BEGIN IMMEDIATE
on SQLite), and driven by the same wrk script as the app, so the ratio compares the app's
work with the write alone:

* ``POST /add`` ``{"cart_id", "product_id"}``: the cart change of ``bench/cart.py`` —
  ``UPDATE carts SET version = version + 1 … RETURNING version`` and an upsert of the line;
* ``POST /reserve`` ``{"location", "lines": [[product id, quantity], …]}``: the reservation
  of ``bench/checkout.py`` — the conditional ``UPDATE stock_levels`` per line, in product
  order, all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from server.db import Database
from server.models import utcnow

BUMP = text(
    "UPDATE carts SET version = version + 1, updated_at = :now WHERE id = :id RETURNING version"
)
UPSERT = text(
    "INSERT INTO cart_lines (cart_id, product_id, quantity, created_at) "
    "VALUES (:id, :product, 1, :now) ON CONFLICT (cart_id, product_id) "
    "DO UPDATE SET quantity = cart_lines.quantity + 1"
)
RESERVE = text(
    "UPDATE stock_levels SET reserved = reserved + :q "
    "WHERE location_id = :l AND product_id = :p AND on_hand - reserved >= :q"
)


class Short(Exception):
    """A line could not be reserved: the whole reservation rolls back."""


def plain_app(db: Database) -> Starlette:
    """Return the baseline app over ``db``: ``/add``, ``/reserve`` and ``/healthz``."""

    async def add(request: Request) -> JSONResponse:
        body = await request.json()
        now = utcnow()
        async with db.transaction() as session:
            bumped = await session.execute(BUMP, {"id": body["cart_id"], "now": now})
            version = bumped.scalar_one()
            await session.execute(
                UPSERT, {"id": body["cart_id"], "product": body["product_id"], "now": now}
            )
        return JSONResponse({"version": version})

    async def reserve(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            async with db.transaction(write=True) as session:
                for product_id, quantity in body["lines"]:
                    result = await session.execute(
                        RESERVE, {"q": quantity, "l": body["location"], "p": product_id}
                    )
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        raise Short
        except Short:
            return JSONResponse({"errors": [{"code": "INSUFFICIENT_STOCK"}]})
        return JSONResponse({"reserved": True})

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await db.dispose()

    return Starlette(
        routes=[
            Route("/add", add, methods=["POST"]),
            Route("/reserve", reserve, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def create_plain_app() -> Starlette:
    """uvicorn's factory: the baseline app over ``BENCH_DATABASE_URL``."""
    return plain_app(Database(os.environ["BENCH_DATABASE_URL"]))
