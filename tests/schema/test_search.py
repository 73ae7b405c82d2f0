"""Search and alternatives over GraphQL, and what still works when the engine is down."""

from __future__ import annotations

from pathlib import Path

from server.db import Database
from server.indexing import Indexer
from server.runtime import Runtime
from tests.clients import client_for, client_of, graphql, runtime_for
from tests.rows import add_online_warehouse, add_product, add_store, fresh_ean13

SEARCH = """
query Find($query: String!, $filter: SearchFilter, $first: Int, $after: String) {
  search(query: $query, filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor highlight node { name brand } }
    pageInfo { hasNextPage endCursor }
    facets { name values { value count } }
    processingTimeMs
  }
}
"""

ALTERNATIVES = """
query Alt($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) { name alternatives(storeId: $storeId, first: 3) { name } }
}
"""

STORES = "{ stores { id code } }"

SCAN = """
mutation Scan($c: String!) { scan(input: {code: $c}) { product { name } errors { code } } }
"""


async def indexed(runtime: Runtime) -> None:
    await Indexer(runtime.db, runtime.search, runtime.settings.currency).drain()


async def store_ids(client: object) -> dict[str, str]:
    body = await graphql(client, STORES)  # type: ignore[arg-type]
    return {s["code"]: s["id"] for s in body["data"]["stores"]}


async def test_a_typo_and_a_prefix_find_the_product(db: Database, tmp_path: Path) -> None:
    runtime = runtime_for(db, tmp_path)
    await add_product(db, name="Kneippbrød grovt", brand="Bakers", categories=["Bakery", "Bread"])
    await add_product(db, name="Kjeks", brand="Sætre", categories=["Bakery", "Biscuits"])
    await indexed(runtime)
    async with client_of(runtime) as client:
        body = await graphql(client, SEARCH, {"query": "kneipbrod gro"})
    result = body["data"]["search"]
    assert result["totalCount"] == 1
    assert result["edges"][0]["node"] == {"name": "Kneippbrød grovt", "brand": "Bakers"}
    assert result["edges"][0]["highlight"] == "<mark>Kneippbrød</mark> <mark>grovt</mark>"
    await runtime.search.close()


async def test_facets_filters_and_paging(db: Database, tmp_path: Path) -> None:
    runtime = runtime_for(db, tmp_path)
    oslo, oslo_loc = await add_store(db, "OSL")
    for i in range(5):
        await add_product(
            db,
            name=f"Yoghurt naturell {i}",
            brand="Tine" if i < 3 else "Q",
            categories=["Dairy", "Yoghurt"],
            price=1000 + i,
            stock={oslo_loc: (i % 2, 0)},
        )
    await indexed(runtime)
    async with client_of(runtime) as client:
        ids = await store_ids(client)
        first = await graphql(client, SEARCH, {"query": "yoghurt", "first": 2})
        second = await graphql(
            client,
            SEARCH,
            {
                "query": "yoghurt",
                "first": 2,
                "after": first["data"]["search"]["pageInfo"]["endCursor"],
            },
        )
        in_stock = await graphql(
            client,
            SEARCH,
            {"query": "yoghurt", "filter": {"inStockAt": ids["OSL"], "brands": ["Tine"]}},
        )
    page1, page2 = first["data"]["search"], second["data"]["search"]
    assert page1["totalCount"] == 5 and page1["pageInfo"]["hasNextPage"] is True
    names = [e["node"]["name"] for e in page1["edges"] + page2["edges"]]
    assert len(set(names)) == 4
    facets = {f["name"]: f["values"] for f in page1["facets"]}
    assert facets["brand"] == [{"value": "Tine", "count": 3}, {"value": "Q", "count": 2}]
    assert facets["category"] == [{"value": "Dairy", "count": 5}, {"value": "Yoghurt", "count": 5}]
    assert [e["node"]["name"] for e in in_stock["data"]["search"]["edges"]] == [
        "Yoghurt naturell 1"
    ]
    await runtime.search.close()


async def test_a_upc_a_query_finds_the_product_first(db: Database, tmp_path: Path) -> None:
    runtime = runtime_for(db, tmp_path)
    await add_product(db, name="Tabasco", gtins=["0011210000018"])
    await add_product(db, name="Other")
    await indexed(runtime)
    async with client_of(runtime) as client:
        full = await graphql(client, SEARCH, {"query": "011210000018"})
        partial = await graphql(client, SEARCH, {"query": "0112100"})
    assert [e["node"]["name"] for e in full["data"]["search"]["edges"]] == ["Tabasco"]
    assert [e["node"]["name"] for e in partial["data"]["search"]["edges"]] == ["Tabasco"]
    await runtime.search.close()


async def test_a_foreign_cursor_and_a_huge_page_are_refused(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        cursor = await graphql(client, SEARCH, {"query": "x", "after": "bm90LWEtY3Vyc29y"})
        page = await graphql(client, SEARCH, {"query": "x", "first": 5000})
        long = await graphql(client, SEARCH, {"query": "x" * 500})
    assert cursor["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}
    assert page["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}
    assert long["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "query"}


async def test_alternatives_prefer_what_is_on_the_shelf_here(db: Database, tmp_path: Path) -> None:
    runtime = runtime_for(db, tmp_path)
    _, oslo_loc = await add_store(db, "OSL")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    path = ["Dairy", "Cheese"]
    await add_product(db, gtins=[code], name="Norvegia", categories=path, stock={oslo_loc: (0, 0)})
    await add_product(db, name="Jarlsberg", categories=path, stock={oslo_loc: (5, 0)})
    await add_product(db, name="Gräddost", categories=path, stock={online: (5, 0)})
    await add_product(db, name="Brunost", categories=path)
    await add_product(db, name="Melk", categories=["Dairy", "Milk"], stock={oslo_loc: (9, 0)})
    await indexed(runtime)
    async with client_of(runtime) as client:
        ids = await store_ids(client)
        body = await graphql(client, ALTERNATIVES, {"gtin": code, "storeId": ids["OSL"]})
    assert body["data"]["product"] == {
        "name": "Norvegia",
        "alternatives": [{"name": "Jarlsberg"}, {"name": "Gräddost"}, {"name": "Brunost"}],
    }
    await runtime.search.close()


async def test_with_the_engine_down_lookup_and_scan_work_and_search_says_why(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Lefse", categories=["Bakery"])
    # Nothing listens on port 1: a Meilisearch that is down.
    async with client_for(db, tmp_path, search_url="http://127.0.0.1:1") as client:
        found = await graphql(client, ALTERNATIVES, {"gtin": code})
        scanned = await graphql(client, SCAN, {"c": code})
        search = await graphql(client, SEARCH, {"query": "lefse"})
        ready = await client.get("/readyz")
    assert found["data"]["product"] == {"name": "Lefse", "alternatives": []}
    assert scanned["data"]["scan"] == {"product": {"name": "Lefse"}, "errors": []}
    assert search["data"] is None
    assert search["errors"][0]["extensions"]["code"] == "SEARCH_UNAVAILABLE"
    assert ready.status_code == 503
    assert ready.json()["checks"]["search"] == "unavailable"
