"""Lists of products read through the read model: a fixed, small number of statements.

Search hits, cart lines and order lines resolve their products from ``product_pages`` with
live stock, one statement for the whole list (``Loaders.page``), whatever its length. Counted
on every engine of the runtime and on the stdlib SQLite page reader (real SQLite and
PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schema.ids import decode_id, encode_id
from server.db import Database
from server.indexing import Indexer
from server.runtime import Runtime
from tests.clients import (
    add_lines,
    client_of,
    collect_at,
    graphql,
    new_cart,
    place_order,
    staff_sign_in,
)
from tests.rows import add_online_warehouse, add_product, add_staff, add_store, fresh_ean13
from tests.server.test_product_pages import Statements, counted_runtime

SEARCH = """
query Find($q: String!, $first: Int, $storeId: ID) {
  search(query: $q, first: $first) {
    edges { node { id name price { current { amount } }
      availability(storeId: $storeId) { here { available status } online { available } } } }
  }
}
"""

CART = """
query Cart($id: ID!, $storeId: ID) {
  cart(id: $id) {
    lines {
      quantity unitPrice { amount } lineTotal { amount }
      product { name price { current { amount } }
        availability(storeId: $storeId) { here { available } online { available } } }
    }
  }
}
"""


def selects(sent: list[str]) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith(("SELECT", "WITH"))]


async def shelf(db: Database, count: int) -> tuple[str, list[str], int]:
    """A store and ``count`` cheeses in stock there; return its id, the barcodes, a location."""
    store_id, location = await add_store(db, "OSL")
    online = await add_online_warehouse(db)
    codes = []
    for i in range(count):
        code = fresh_ean13()
        codes.append(code)
        await add_product(
            db,
            gtins=[code],
            name=f"Brunost {i}",
            categories=["Dairy", "Cheese"],
            stock={location: (5 + i, 0), online: (i % 3, 0)},
        )
    return encode_id("Store", store_id), codes, location


async def drained(db: Database, tmp_path: Path) -> tuple[Runtime, Statements]:
    runtime, statements = counted_runtime(db, tmp_path, page_cache_seconds=0)
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    return runtime, statements


async def counted(
    runtime: Runtime, statements: Statements, client: Any, query: str, variables: Any, **kw: Any
) -> tuple[dict[str, Any], list[str]]:
    with statements.on_engines(runtime):
        statements.take()
        body = await graphql(client, query, variables, **kw)
        sent = statements.take()
    assert "errors" not in body, body
    return body, sent


async def test_a_search_page_of_20_hits_with_availability_is_one_read(
    db: Database, tmp_path: Path
) -> None:
    store, _, _ = await shelf(db, 24)
    runtime, statements = await drained(db, tmp_path)
    async with client_of(runtime) as client:
        full, on_20 = await counted(
            runtime, statements, client, SEARCH, {"q": "brunost", "first": 20, "storeId": store}
        )
        few, on_3 = await counted(
            runtime, statements, client, SEARCH, {"q": "brunost", "first": 3, "storeId": store}
        )
    edges = full["data"]["search"]["edges"]
    assert len(edges) == 20 and len(few["data"]["search"]["edges"]) == 3
    assert all(e["node"]["availability"]["here"]["available"] >= 5 for e in edges)
    assert len(on_20) == len(on_3) == 1, on_20
    assert "FROM product_pages p WHERE p.product_id IN" in on_20[0]
    await runtime.pages.close()
    await runtime.search.close()


async def test_a_cart_view_costs_the_same_few_reads_for_any_number_of_lines(
    db: Database, tmp_path: Path
) -> None:
    store, codes, _ = await shelf(db, 6)
    runtime, statements = await drained(db, tmp_path)
    async with client_of(runtime) as client:
        counts = []
        for lines in (codes[:1], codes[1:6]):
            cart_id, reach = await new_cart(client)
            await add_lines(client, cart_id, reach, [(code, 1) for code in lines])
            body, sent = await counted(
                runtime, statements, client, CART, {"id": cart_id, "storeId": store}, headers=reach
            )
            assert len(body["data"]["cart"]["lines"]) == len(lines)
            counts.append(len(selects(sent)))
            assert any("FROM product_pages p WHERE p.product_id IN" in s for s in sent), sent
    # The cart and its lines, the viewer, prices (prices, campaigns), the pages: 5 either way.
    assert counts == [5, 5], counts
    await runtime.pages.close()


STORE_ORDERS = """
query StoreOrders($storeId: ID, $first: Int!) {
  storeOrders(storeId: $storeId, first: $first) {
    edges { node { number status lines { quantity product { name
      availability(storeId: $storeId) { here { available } } } } } }
  }
}
"""


async def test_the_staff_order_list_costs_the_same_few_reads_for_any_number_of_orders(
    db: Database, tmp_path: Path
) -> None:
    store, codes, _ = await shelf(db, 6)
    await add_staff(db, "disk@omnicart.test", store_code="OSL")
    runtime, statements = await drained(db, tmp_path)
    store_id = decode_id(store, "Store")
    async with client_of(runtime) as client:
        staff = await staff_sign_in(client, "disk@omnicart.test")
        counts = []
        for orders in (1, 4):
            while await placed_count(client, staff, store) < orders:
                lines = [(code, 1) for code in codes[: 1 + orders]]
                await place_order(client, lines, collect_at(store_id))
            body, sent = await counted(
                runtime,
                statements,
                client,
                STORE_ORDERS,
                {"storeId": store, "first": 20},
                headers=staff,
            )
            edges = body["data"]["storeOrders"]["edges"]
            assert len(edges) == orders
            assert all(line["product"]["name"] for e in edges for line in e["node"]["lines"])
            counts.append(len(selects(sent)))
            assert any("FROM product_pages p WHERE p.product_id IN" in s for s in sent), sent
    # The viewer, the orders, their lines, the pages with stock: 4 either way (the orders'
    # stock changes, not yet drained, leave the pages usable: no catalog read).
    assert counts == [4, 4], counts
    await runtime.pages.close()
    await runtime.search.close()


async def placed_count(client: Any, staff: dict[str, str], store: str) -> int:
    body = await graphql(client, STORE_ORDERS, {"storeId": store, "first": 100}, staff)
    return len(body["data"]["storeOrders"]["edges"])
