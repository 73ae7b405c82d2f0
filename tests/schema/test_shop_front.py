"""The shop front's fields: a store's campaign offers and the category counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from schema.ids import encode_id
from server.db import Database
from server.indexing import Indexer
from server.models import utcnow
from tests.clients import client_for, client_of, graphql, runtime_for
from tests.rows import add_campaign, add_product, add_store

OFFERS = """
query Offers($storeId: ID!, $first: Int, $after: String) {
  campaignProducts(storeId: $storeId, first: $first, after: $after) {
    edges { cursor node { name price { regular { amount } current { amount } campaign { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CATEGORIES = """
query Categories($parent: String, $inStockAt: ID, $first: Int) {
  categories(parent: $parent, inStockAt: $inStockAt, first: $first) { name productCount }
}
"""

SEARCH_COUNT = """
query Count($filter: SearchFilter) { search(query: "", filter: $filter, first: 1) { totalCount } }
"""


def names(body: dict[str, object]) -> list[str]:
    connection = body["data"]["campaignProducts"]  # type: ignore[index]
    return [edge["node"]["name"] for edge in connection["edges"]]


async def test_offers_are_running_campaigns_the_store_has(db: Database, tmp_path: Path) -> None:
    now = utcnow()
    oslo, oslo_loc = await add_store(db, "OSL")
    _, bergen_loc = await add_store(db, "BGO")
    stocked = {oslo_loc: (5, 0), bergen_loc: (5, 0)}
    running = await add_product(db, name="Brunost", price=8990, stock=stocked)
    await add_campaign(db, running, 6990, starts_at=now - timedelta(days=1), ends_at=None)
    open_start = await add_product(db, name="Appelsinjuice", price=3990, stock=stocked)
    await add_campaign(
        db, open_start, 2990, name="Juicefest", starts_at=None, ends_at=now + timedelta(days=3)
    )
    await add_product(db, name="Havregryn", price=2990, stock=stocked)  # no campaign
    ended = await add_product(db, name="Kaviar", price=4990, stock=stocked)
    await add_campaign(db, ended, 3990, starts_at=now - timedelta(days=9), ends_at=now)
    future = await add_product(db, name="Lefse", price=4990, stock=stocked)
    await add_campaign(db, future, 3990, starts_at=now + timedelta(days=1), ends_at=None)
    dearer = await add_product(db, name="Melk", price=1990, stock=stocked)
    await add_campaign(db, dearer, 2490, starts_at=None, ends_at=None)  # not below regular
    only_bergen = await add_product(db, name="Fiskekaker", price=5990, stock={bergen_loc: (3, 0)})
    await add_campaign(db, only_bergen, 4990, starts_at=None, ends_at=None)
    all_reserved = await add_product(db, name="Rømme", price=2490, stock={oslo_loc: (2, 2)})
    await add_campaign(db, all_reserved, 1990, starts_at=None, ends_at=None)
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, OFFERS, {"storeId": encode_id("Store", oslo)})
    assert "errors" not in body
    assert names(body) == ["Appelsinjuice", "Brunost"]
    brunost = body["data"]["campaignProducts"]["edges"][1]["node"]  # type: ignore[index]
    assert brunost["price"] == {
        "regular": {"amount": 8990},
        "current": {"amount": 6990},
        "campaign": {"name": "Ukens tilbud"},
    }


async def test_offers_come_in_pages(db: Database, tmp_path: Path) -> None:
    oslo, oslo_loc = await add_store(db, "OSL")
    for letter in "EDCBA":
        product = await add_product(db, name=f"Tilbud {letter}", stock={oslo_loc: (1, 0)})
        await add_campaign(db, product, 990, starts_at=None, ends_at=None)
    store = encode_id("Store", oslo)
    seen: list[str] = []
    after = None
    async with client_for(db, tmp_path) as client:
        for _ in range(3):
            body = await graphql(client, OFFERS, {"storeId": store, "first": 2, "after": after})
            seen += names(body)
            info = body["data"]["campaignProducts"]["pageInfo"]  # type: ignore[index]
            if not info["hasNextPage"]:
                break
            after = info["endCursor"]
        too_many = await graphql(client, OFFERS, {"storeId": store, "first": 101})
    assert seen == [f"Tilbud {letter}" for letter in "ABCDE"]
    assert info["hasNextPage"] is False
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID_INPUT"  # type: ignore[index]


async def test_categories_count_what_the_search_filter_finds(db: Database, tmp_path: Path) -> None:
    runtime = runtime_for(db, tmp_path)
    oslo, oslo_loc = await add_store(db, "OSL")
    here, gone = {oslo_loc: (4, 0)}, {oslo_loc: (0, 0)}
    await add_product(db, name="Lettmelk", categories=["Dairies", "Milks"], stock=here)
    await add_product(db, name="Skummet melk", categories=["Dairies", "Milks"], stock=gone)
    await add_product(db, name="Yoghurt", categories=["Dairies", "Yogurts"], stock=here)
    await add_product(db, name="Cola", categories=["Beverages", "Sodas"], stock=here)
    # "Beverages" deeper in another path: the search filter finds it, so the count has it.
    await add_product(
        db, name="Havredrikk", categories=["Plant based", "Beverages", "Oat drinks"], stock=gone
    )
    await add_product(db, name="Gammel saft", categories=["Beverages"], active=False)
    await Indexer(runtime.db, runtime.search, runtime.settings.currency).drain()
    store = encode_id("Store", oslo)
    async with client_of(runtime) as client:
        top = await graphql(client, CATEGORIES)
        stocked = await graphql(client, CATEGORIES, {"inStockAt": store})
        dairy = await graphql(client, CATEGORIES, {"parent": "Dairies"})
        first_one = await graphql(client, CATEGORIES, {"first": 1})
        searched = {
            name: await graphql(client, SEARCH_COUNT, {"filter": {"categories": [name]}})
            for name in ("Dairies", "Beverages", "Plant based")
        }
    await runtime.search.close()
    counts = {c["name"]: c["productCount"] for c in top["data"]["categories"]}  # type: ignore[index]
    assert top["data"]["categories"] == [  # type: ignore[index]
        {"name": "Dairies", "productCount": 3},
        {"name": "Beverages", "productCount": 2},
        {"name": "Plant based", "productCount": 1},
    ]
    for name, body in searched.items():
        assert body["data"]["search"]["totalCount"] == counts[name], name  # type: ignore[index]
    assert stocked["data"]["categories"] == [  # type: ignore[index]
        {"name": "Dairies", "productCount": 2},
        {"name": "Beverages", "productCount": 1},
    ]
    assert dairy["data"]["categories"] == [  # type: ignore[index]
        {"name": "Milks", "productCount": 2},
        {"name": "Yogurts", "productCount": 1},
    ]
    assert first_one["data"]["categories"] == [{"name": "Dairies", "productCount": 3}]  # type: ignore[index]


COSTLY_OFFERS = """
query Costly($storeId: ID!) {
  campaignProducts(storeId: $storeId, first: 100) {
    edges { node { name alternatives(first: 20) { name availability { stores { available } } } } }
  }
}
"""


async def test_a_costly_page_of_offers_is_refused_before_it_runs(
    db: Database, tmp_path: Path
) -> None:
    oslo, _ = await add_store(db, "OSL")
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, COSTLY_OFFERS, {"storeId": encode_id("Store", oslo)})
    assert body["data"] is None
    error = body["errors"][0]["extensions"]  # type: ignore[index]
    # The page's `first` sizes its edges: 100 offers with 20 alternatives each is over budget.
    assert error["code"] == "QUERY_TOO_COSTLY"
    assert error["cost"] > error["budget"]
