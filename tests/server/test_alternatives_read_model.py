"""Alternatives from the read model: ranked at index time, ordered by live stock at read time.

Every test runs on real SQLite and PostgreSQL (the ``db`` fixture), drains the outbox with the
real indexer and reads through the app or ``runtime.pages``. The engine's own ranking
(``search.alternatives.rank_alternatives`` over the embedded index) is the reference the read
model must equal.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from schema.ids import encode_id
from server import searching
from server.db import Database
from server.gtin import parse_gtin
from server.indexing import Indexer, reindex_all
from server.models import Price, Product, ProductAlternative, ProductBarcode, StockLevel
from server.outbox import record_product_changes
from server.runtime import Runtime
from tests.clients import client_of, graphql
from tests.rows import add_online_warehouse, add_product, add_store, fresh_ean13
from tests.server.test_product_pages import counted_runtime

ALTERNATIVES = """
query Alternatives($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    id name
    price { current { amount } }
    alternatives(storeId: $storeId, first: 5) {
      id name
      price { current { amount } }
      availability(storeId: $storeId) { here { available status } }
    }
  }
}
"""

WORDS = ["gul", "ost", "norsk", "mild", "lagret", "gauda", "brun", "hvit", "fet", "rund"]
PATHS = [
    ["Dairy", "Cheese"],
    ["Dairy", "Cheese", "Hard"],
    ["Dairy", "Milk"],
    ["Dairy"],
    ["Bakery", "Bread"],
]


async def drain(runtime: Runtime) -> None:
    await Indexer(runtime.db, runtime.search, runtime.settings.currency).drain()


async def set_stock(db: Database, location_id: int, product_id: int, on_hand: int) -> None:
    """Set a product's stock at a location (no outbox row: stock is read live)."""
    async with db.transaction() as session:
        found = await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == location_id, StockLevel.product_id == product_id)
            .values(on_hand=on_hand, reserved=0)
        )
        if not found.rowcount:  # type: ignore[attr-defined]
            session.add(
                StockLevel(
                    location_id=location_id, product_id=product_id, on_hand=on_hand, reserved=0
                )
            )


async def random_catalog(db: Database, rng: random.Random) -> tuple[list[int], list[int], int]:
    """Two stores, the online warehouse and 36 products over overlapping category paths."""
    stores, locations = zip(*[await add_store(db, code) for code in ("OSL", "BGO")], strict=True)
    online = await add_online_warehouse(db)
    for _ in range(36):
        stock = {
            loc: (rng.choice([0, 0, 3]), 0) for loc in (*locations, online) if rng.random() < 0.7
        }
        await add_product(
            db,
            name=" ".join(rng.sample(WORDS, rng.randint(1, 3))),
            brand=rng.choice(["Tine", "Q", None]),
            categories=rng.choice(PATHS),
            price=rng.choice([1990, 2990, 3990, 4990]),
            stock=stock,
        )
    return list(stores), list(locations), online


async def primary_code(db: Database, product_id: int) -> str:
    async with db.transaction(write=False) as session:
        return (  # type: ignore[no-any-return]
            await session.execute(
                select(ProductBarcode.gtin).where(
                    ProductBarcode.product_id == product_id, ProductBarcode.is_primary
                )
            )
        ).scalar_one()


async def engine_ids(runtime: Runtime, product_id: int, store: int | None, first: int) -> list[int]:
    """The engine's answer: ``rank_alternatives`` over the embedded index of the drained state."""
    read = await runtime.pages.read(parse_gtin(await primary_code(runtime.db, product_id)))
    assert read is not None
    return await searching.alternatives_of_page(runtime.search, read, store_id=store, first=first)


async def read_model_ids(
    runtime: Runtime, product_id: int, store: int | None, first: int
) -> list[int]:
    found = await runtime.pages.alternatives(product_id, store, first)
    assert found is not None
    assert all(read is not None for _, read in found)  # drained: every page is clean
    return [pid for pid, _ in found]


async def product_ids(db: Database) -> list[int]:
    async with db.transaction(write=False) as session:
        return list(
            (
                await session.execute(select(Product.id).where(Product.active).order_by(Product.id))
            ).scalars()
        )


async def assert_same_as_engine(runtime: Runtime, stores: list[int]) -> int:
    compared = 0
    for product_id in await product_ids(runtime.db):
        for store in (None, *stores):
            for first in (1, 3, 5, 20):
                expected = await engine_ids(runtime, product_id, store, first)
                got = await read_model_ids(runtime, product_id, store, first)
                assert got == expected, (product_id, store, first)
                compared += bool(expected)
    return compared


async def test_the_read_model_ranks_as_the_engine_does_and_follows_catalog_changes(
    db: Database, tmp_path: Path
) -> None:
    rng = random.Random(11)
    stores, _, _ = await random_catalog(db, rng)
    runtime = runtime_for_counting(db, tmp_path)
    await drain(runtime)
    assert await assert_same_as_engine(runtime, stores) > 100
    # Renamed, re-priced, moved to another category, deactivated: neighbours' lists follow.
    ids = await product_ids(db)
    async with db.transaction() as session:
        await session.execute(update(Product).where(Product.id == ids[0]).values(name="gul ost"))
        await session.execute(
            update(Product).where(Product.id == ids[1]).values(categories=["Bakery", "Bread"])
        )
        await session.execute(update(Product).where(Product.id == ids[2]).values(active=False))
        await session.execute(update(Price).where(Price.product_id == ids[3]).values(amount=10))
        await record_product_changes(session, ids[:4])
    await add_product(db, name="mild gauda", categories=["Dairy", "Cheese"])
    await drain(runtime)
    assert await assert_same_as_engine(runtime, stores) > 100
    await runtime.pages.close()
    await runtime.search.close()


def runtime_for_counting(db: Database, tmp_path: Path) -> Runtime:
    # No page cache: the test's indexer announces nothing, and the engine is asked with the
    # scanned product's page as stored now.
    runtime, _ = counted_runtime(db, tmp_path, page_cache_seconds=0)
    return runtime


async def cheese_shelf(db: Database) -> dict[str, Any]:
    """Norvegia at Oslo with three other cheeses: Jarlsberg in stock there, the rest not."""
    store_id, oslo = await add_store(db, "OSL", "Oslo City")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    path = ["Dairy", "Cheese"]
    norvegia = await add_product(db, gtins=[code], name="Norvegia", categories=path)
    jarlsberg = await add_product(db, name="Jarlsberg", categories=path, stock={oslo: (5, 0)})
    graddost = await add_product(
        db, name="Gräddost", categories=path, price=2990, stock={online: (5, 0)}
    )
    brunost = await add_product(db, name="Brunost", categories=path)
    return {
        "code": code,
        "store": encode_id("Store", store_id),
        "oslo": oslo,
        "ids": {"Norvegia": norvegia, "Jarlsberg": jarlsberg, "Gräddost": graddost},
        "brunost": brunost,
    }


async def alternatives_of(client: Any, shelf: dict[str, Any]) -> list[str]:
    body = await graphql(client, ALTERNATIVES, {"gtin": shelf["code"], "storeId": shelf["store"]})
    assert "errors" not in body, body
    return [a["name"] for a in body["data"]["product"]["alternatives"]]


async def test_a_page_with_alternatives_costs_two_statements_and_no_search(
    db: Database, tmp_path: Path
) -> None:
    shelf = await cheese_shelf(db)
    runtime, statements = counted_runtime(db, tmp_path)
    await drain(runtime)
    await runtime.search.close()  # a search call now would answer no alternatives at all
    async with client_of(runtime) as client:
        with statements.on_engines(runtime):
            body = await graphql(
                client, ALTERNATIVES, {"gtin": shelf["code"], "storeId": shelf["store"]}
            )
            on_miss = statements.take()
            await asyncio.sleep(0.05)  # the cache's listener subscribes
            await graphql(client, ALTERNATIVES, {"gtin": shelf["code"], "storeId": shelf["store"]})
            statements.take()
            cached = await graphql(
                client, ALTERNATIVES, {"gtin": shelf["code"], "storeId": shelf["store"]}
            )
            on_hit = statements.take()
    assert len(on_miss) == 2, on_miss
    assert "FROM product_alternatives a" in on_miss[1]
    assert len(on_hit) == 1, on_hit  # alternatives are never cached: stock is read live
    assert body == cached
    alternatives = body["data"]["product"]["alternatives"]
    assert [a["name"] for a in alternatives] == ["Jarlsberg", "Gräddost", "Brunost"]
    assert alternatives[0]["availability"]["here"] == {"available": 5, "status": "IN_STOCK"}
    assert alternatives[1]["price"] == {"current": {"amount": 2990}}
    await runtime.pages.close()


async def test_stock_moves_alternatives_on_the_next_read_and_new_products_come_when_drained(
    db: Database, tmp_path: Path
) -> None:
    shelf = await cheese_shelf(db)
    runtime, _ = counted_runtime(db, tmp_path)
    await drain(runtime)
    async with client_of(runtime) as client:
        before = await alternatives_of(client, shelf)
        await set_stock(db, shelf["oslo"], shelf["ids"]["Jarlsberg"], 0)  # sold out, not drained
        sold_out = await alternatives_of(client, shelf)
        await set_stock(db, shelf["oslo"], shelf["brunost"], 4)
        restocked = await alternatives_of(client, shelf)
        newcomer = await add_product(db, name="Nøkkelost", categories=["Dairy", "Cheese"])
        await set_stock(db, shelf["oslo"], newcomer, 9)
        not_drained = await alternatives_of(client, shelf)
        await drain(runtime)
        drained = await alternatives_of(client, shelf)
    assert before == ["Jarlsberg", "Gräddost", "Brunost"]
    assert sold_out == ["Gräddost", "Jarlsberg", "Brunost"]  # out of stock: in id order
    assert restocked == ["Brunost", "Gräddost", "Jarlsberg"]
    assert not_drained == restocked
    assert drained == ["Brunost", "Nøkkelost", "Gräddost", "Jarlsberg"]
    await runtime.pages.close()


async def test_reindex_rebuilds_every_list(db: Database, tmp_path: Path) -> None:
    shelf = await cheese_shelf(db)
    runtime, _ = counted_runtime(db, tmp_path)
    await drain(runtime)
    async with client_of(runtime) as client:
        before = await alternatives_of(client, shelf)
        async with db.transaction() as session:
            await session.execute(delete(ProductAlternative))
        lost = await alternatives_of(client, shelf)
        await reindex_all(db, runtime.search, runtime.settings.currency)
        rebuilt = await alternatives_of(client, shelf)
    assert before == rebuilt == ["Jarlsberg", "Gräddost", "Brunost"]
    assert lost == []
    await runtime.pages.close()
