"""bench/lookup.py's baseline route answers exactly what GraphQL answers for the product page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Route

from bench.lookup import page_extensions
from bench.plain_lookup import PLAIN_PATH, plain_product
from omnicart.app import create_app
from schema.ids import encode_id
from server.db import Database
from server.models import utcnow
from server.pwa_documents import product_page_document
from tests.clients import graphql, runtime_for
from tests.rows import add_campaign, add_online_warehouse, add_product, add_store, fresh_ean13


def bench_client(db: Database, tmp_path: Path) -> httpx.AsyncClient:
    """A client of the app with the bench's plain route mounted, as create_bench_app does."""
    runtime = runtime_for(db, tmp_path)
    app = create_app(runtime.settings, runtime, migrate=False)
    app.router.routes.insert(0, Route(PLAIN_PATH, plain_product, methods=["GET"]))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def both_answers(
    client: httpx.AsyncClient, code: str, store: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    variables = {"gtin": code, "storeId": store}
    via_graphql = await graphql(client, product_page_document(), variables)
    params = {"storeId": store} if store else {}
    plain = await client.get(f"/bench/product/{code}", params=params)
    assert plain.status_code == 200, plain.text
    return via_graphql, plain.json()


def test_the_document_is_the_product_screens_query() -> None:
    document = " ".join(product_page_document().split())
    assert document.startswith(
        "query Product($gtin: String!, $storeId: ID) { product(gtin: $gtin) { id gtin gtins "
    )
    assert "availability(storeId: $storeId) { here { available status store { id name } }" in (
        document
    )
    assert "${" not in document


async def test_plain_route_answers_the_graphql_page_with_campaign_and_stock(
    db: Database, tmp_path: Path
) -> None:
    oslo, oslo_location = await add_store(db, "OSL", "Oslo City")
    bergen, bergen_location = await add_store(db, "BGO", "Bergen Torget")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    product = await add_product(
        db,
        gtins=[code, fresh_ean13()],
        name="Brunost",
        stock={oslo_location: (10, 2), bergen_location: (2, 0), online: (0, 0)},
    )
    now = utcnow().replace(microsecond=0)
    await add_campaign(
        db, product, 3990, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6)
    )
    async with bench_client(db, tmp_path) as client:
        for store in (encode_id("Store", oslo), encode_id("Store", bergen), None):
            via_graphql, plain = await both_answers(client, code, store)
            assert "errors" not in via_graphql, via_graphql
            assert plain == via_graphql
    page = plain["data"]["product"]
    assert (page["name"], page["price"]["current"]["amount"]) == ("Brunost", 3990)
    assert page["price"]["campaign"]["name"] == "Ukens tilbud"
    assert [
        (s["store"]["name"], s["available"], s["status"]) for s in page["availability"]["stores"]
    ] == [
        ("Bergen Torget", 2, "LOW_STOCK"),
        ("Oslo City", 8, "IN_STOCK"),
    ]


async def test_plain_route_answers_null_for_an_unknown_code_like_graphql(
    db: Database, tmp_path: Path
) -> None:
    async with bench_client(db, tmp_path) as client:
        via_graphql, plain = await both_answers(client, fresh_ean13(), None)
    assert plain == via_graphql == {"data": {"product": None}}


async def test_the_bench_sends_the_page_by_hash_and_it_answers_as_the_text_does(
    sqlite_db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code], name="Brunost")
    variables = {"gtin": code, "storeId": None}
    async with bench_client(sqlite_db, tmp_path) as client:
        by_hash = await client.post(
            "/graphql", json={"extensions": page_extensions(), "variables": variables}
        )
        as_text = await graphql(client, product_page_document(), variables)
    assert by_hash.json()["data"]["product"]["name"] == "Brunost"
    assert by_hash.json() == as_text
