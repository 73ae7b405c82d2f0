"""The product screen's dedicated executor answers byte for byte what the general path answers.

Two apps over one runtime: the real one (``OmnicartGraphQL`` with its fast path) and one whose
fast path is off, so every request runs through Strawberry and graphql-core. Each request,
well formed or not, goes to both; status, media type and body must be equal.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from schema import page_path
from schema.ids import encode_id
from schema.view import OmnicartGraphQL
from server import app as server_app
from server.db import Database
from server.indexing import Indexer
from server.models import Product, StockLevel, utcnow
from server.pwa_documents import product_page_document
from server.runtime import Runtime
from tests.clients import runtime_for, sign_up
from tests.rows import (
    add_campaign,
    add_online_warehouse,
    add_product,
    add_store,
    fresh_ean13,
)

PAGE = product_page_document()
SHA = hashlib.sha256(PAGE.encode()).hexdigest()


def app_with(runtime: Runtime, *, fast: bool) -> httpx.AsyncClient:
    view = OmnicartGraphQL(runtime)
    if not fast:
        view.page_text = None
    app = server_app.create_app(runtime.settings, runtime, graphql=lambda _: view, migrate=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def catalog(db: Database) -> tuple[list[str], list[str]]:
    """Three stores, the online warehouse, products with campaigns, stock and odd fields."""
    stores, locations = [], []
    for code in ("OSL", "BGO", "TRD"):
        store_id, location = await add_store(db, code, f"Store {code}")
        stores.append(encode_id("Store", store_id))
        locations.append(location)
    online = await add_online_warehouse(db)
    now = utcnow()
    codes = []
    for i in range(24):
        code = fresh_ean13()
        codes.append(code)
        gtins = [code, fresh_ean13()] if i % 5 == 0 else [code]
        stock = {loc: (i * (n + 1) % 7, i % 2) for n, loc in enumerate(locations) if (i + n) % 3}
        if i % 4:
            stock[online] = (i % 6, 0)
        product_id = await add_product(
            db,
            gtins=gtins,
            name=f'Vare «{i}» "æøå"',
            brand=None if i % 3 == 0 else "Tine",
            categories=["Dairy", "Cheese"][: 1 + i % 2],
            price=None if i == 7 else 1990 + i * 10,
        )
        if i % 3 == 1:
            await add_campaign(
                db, product_id, 990 + i, starts_at=now - timedelta(days=1), ends_at=None
            )
        if i % 6 == 2:
            await add_campaign(
                db,
                product_id,
                500,
                name="Snart",
                starts_at=now + timedelta(days=2),
                ends_at=now + timedelta(days=9),
            )
        if i % 8 == 3:
            await add_campaign(
                db, product_id, 700, name="Medlem", starts_at=None, ends_at=None, members_only=True
            )
        if stock:
            await add_stock(db, product_id, stock)
        async with db.transaction() as session:
            quantity = ["500 g", "1,5 l", "6 stk", "ca. 1 kg", None, "2 x 250 g"][i % 6]
            await session.execute(
                update(Product).where(Product.id == product_id).values(quantity=quantity)
            )
    return codes, stores


async def add_stock(db: Database, product_id: int, stock: dict[int, tuple[int, int]]) -> None:
    async with db.transaction() as session:
        for location_id, (on_hand, reserved) in stock.items():
            session.add(
                StockLevel(
                    location_id=location_id,
                    product_id=product_id,
                    on_hand=on_hand,
                    reserved=min(reserved, on_hand),
                )
            )


seen: list[Any] = []


async def both(
    fast: httpx.AsyncClient,
    general: httpx.AsyncClient,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    answers = [await c.post("/graphql", json=body, headers=headers or {}) for c in (fast, general)]
    first, second = answers
    seen.append(first.json())
    assert first.status_code == second.status_code, body
    assert first.headers["content-type"] == second.headers["content-type"], body
    assert first.content == second.content, (body, first.content, second.content)
    return first.json()  # type: ignore[no-any-return]


def by_hash(variables: Any, **extra: Any) -> dict[str, Any]:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": SHA}}}
    if variables is not None:
        body["variables"] = variables
    return {**body, **extra}


async def test_the_fast_path_is_on_for_the_pwas_document() -> None:
    assert page_path.matches(PAGE)
    assert not page_path.matches(PAGE.replace("barcodeUrl", "sku"))


async def test_the_fast_path_answers_as_the_general_path_does(db: Database, tmp_path: Path) -> None:
    codes, stores = await catalog(db)
    restricted = fresh_ean13(prefix="20")
    await add_product(db, gtins=[restricted], name="Vektvare")
    runtime = runtime_for(db, tmp_path)
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    pending = fresh_ean13()
    await add_product(db, gtins=[pending], name="Ny vare")  # not drained: read from the catalog
    async with app_with(runtime, fast=True) as fast, app_with(runtime, fast=False) as general:
        answered = 0
        forms = [*codes, "0" + codes[0], f" {codes[1]} "]  # and as GTIN-14, and spaced
        for code, store in itertools.product(forms, [None, *stores]):
            variables = {"gtin": code, "storeId": store}
            body = await both(fast, general, by_hash(variables))
            # The fast path (not a fallback) answered these: it gives an answer of its own.
            own = await page_path.answer(
                runtime.pages,
                variables,
                bearer=None,
                threshold=runtime.settings.low_stock_threshold,
            )
            answered += own is not None and body["data"]["product"] is not None
        assert answered == (len(codes) + 2) * (len(stores) + 1)
        odd: list[Any] = [
            {"gtin": "abc"},
            {"gtin": ""},
            {"gtin": fresh_ean13()},
            {"gtin": restricted, "storeId": stores[0]},
            {"gtin": codes[2], "storeId": encode_id("Store", 999)},
            {"gtin": codes[2], "storeId": encode_id("Product", 1)},
            {"gtin": codes[2], "storeId": "not an id"},
            {"gtin": codes[2], "storeId": 5},
            {"gtin": codes[2] + "\0"},
            {"gtin": codes[2], "other": 1},
            {"gtin": 1234},
            {},
            None,
        ]
        for variables in odd:
            await both(fast, general, by_hash(variables))
        await both(fast, general, by_hash({"gtin": pending, "storeId": stores[1]}))
        await both(fast, general, by_hash({"gtin": codes[3]}, operationName="Other"))
        await both(fast, general, {"query": PAGE, "variables": {"gtin": codes[3]}})
        await both(fast, general, by_hash({"gtin": codes[3]}), {"authorization": "Bearer nope"})
        priced = [
            b["data"]["product"]["unitPrice"] for b in seen if (b.get("data") or {}).get("product")
        ]
        assert {p["unit"] for p in priced if p} == {"KILOGRAM", "LITRE", "PIECE"}
        assert None in priced
        member = await sign_up(fast, "page@example.com")
        await both(fast, general, by_hash({"gtin": codes[3]}), member)
    await runtime.pages.close()
