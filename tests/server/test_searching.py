"""The search service: how the engine's answers and failures reach callers as typed errors.

The engines are real: the embedded one in a temporary directory (closed to make it
unavailable), and a Meilisearch stand-in on loopback that refuses every search.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from search import SearchEngine
from search.embedded import EmbeddedEngine
from search.meili import MeiliEngine
from server import catalog, searching
from server.db import Database
from server.errors import InvalidInput, SearchUnavailable
from server.indexing import documents_for
from server.models import Product
from server.searching import ProductQuery
from tests.rows import add_product, add_store


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(tmp_path / "search")
    await engine.ensure_ready()
    yield engine
    await engine.close()


@pytest.fixture
async def refusing_meili() -> AsyncIterator[str]:
    """Serve a Meilisearch that answers every search with 400 invalid_search_filter."""

    async def refuse(request: Request) -> JSONResponse:
        body = {
            "message": "Attribute `x` is not filterable.",
            "code": "invalid_search_filter",
            "type": "invalid_request",
            "link": "",
        }
        return JSONResponse(body, status_code=400)

    app = Starlette(routes=[Route("/indexes/{uid}/search", refuse, methods=["POST"])])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", ws="none"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    await serving
    listener.close()


async def index_products(db: Database, engine: SearchEngine, ids: list[int]) -> None:
    async with db.transaction(write=False) as session:
        docs, _ = await documents_for(session, ids, "NOK")
    await engine.index(docs)


async def product_row(db: Database, product_id: int) -> Product:
    async with db.transaction(write=False) as session:
        return (await catalog.products_by_ids(session, [product_id]))[product_id]


async def alternatives(engine: SearchEngine, row: Product, *, first: int) -> list[int]:
    """Ask for alternatives to a product indexed without barcodes, price or stock."""
    return await searching.alternatives_for(
        engine, row, gtins=[], price=None, stock=[], currency="NOK", store_id=None, first=first
    )


async def test_search_answers_the_engines_page(db: Database, embedded: EmbeddedEngine) -> None:
    lefse = await add_product(db, name="Lefse", categories=["Bakery"])
    milk = await add_product(db, name="Melk", categories=["Dairy"])
    await index_products(db, embedded, [lefse, milk])

    response = await searching.search_products(embedded, ProductQuery(text="lefse"))

    assert ([hit.id for hit in response.hits], response.total) == ([lefse], 1)


@pytest.mark.parametrize("first", [0, 101])
async def test_a_page_size_out_of_range_is_invalid_input_on_first(
    embedded: EmbeddedEngine, first: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await searching.search_products(embedded, ProductQuery(text="lefse", first=first))

    assert (raised.value.code, raised.value.field) == ("INVALID_INPUT", "first")
    assert raised.value.message == "Ask for 1 to 100 hits at a time."


async def test_a_query_too_long_is_invalid_input_on_query(embedded: EmbeddedEngine) -> None:
    with pytest.raises(InvalidInput) as raised:
        await searching.search_products(embedded, ProductQuery(text="x" * 201))

    assert (raised.value.code, raised.value.field) == ("INVALID_INPUT", "query")
    assert raised.value.message == (
        "The search query is 201 characters long; at most 200 are allowed."
    )


async def test_a_request_the_engine_refuses_to_build_is_invalid_input(
    embedded: EmbeddedEngine,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await searching.search_products(embedded, ProductQuery(text="lefse", offset=-1))

    assert (raised.value.code, raised.value.field) == ("INVALID_INPUT", None)
    assert raised.value.message == "offset must be between 0 and 100000, got -1"


async def test_an_engine_that_cannot_answer_is_search_unavailable(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "search")
    await engine.ensure_ready()
    await engine.close()

    with pytest.raises(SearchUnavailable) as raised:
        await searching.search_products(engine, ProductQuery(text="lefse"))

    assert raised.value.code == "SEARCH_UNAVAILABLE"
    assert raised.value.message == (
        "Search is unavailable right now; scanning and barcode lookup still work."
    )


async def test_an_engine_that_answers_with_a_failure_is_search_unavailable(
    refusing_meili: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = MeiliEngine(refusing_meili, None)
    try:
        with pytest.raises(SearchUnavailable) as raised:
            await searching.search_products(engine, ProductQuery(text="lefse"))
    finally:
        await engine.close()

    assert (raised.value.code, raised.value.message) == (
        "SEARCH_UNAVAILABLE",
        "Search failed; please try again.",
    )
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "omnicart.search"]
    assert len(logged) == 1 and logged[0][0] == "ERROR"
    assert logged[0][1].startswith("search failed: Meilisearch refused to search")


async def test_alternatives_come_from_the_engine(db: Database, embedded: EmbeddedEngine) -> None:
    store, location = await add_store(db, "S1")
    scanned = await add_product(db, name="Grovbrød", categories=["Bakery"])
    other = await add_product(
        db, name="Kneippbrød", categories=["Bakery"], stock={location: (5, 0)}
    )
    milk = await add_product(db, name="Melk", categories=["Dairy"], stock={location: (5, 0)})
    await index_products(db, embedded, [scanned, other, milk])
    row = await product_row(db, scanned)

    ids = await searching.alternatives_for(
        embedded, row, gtins=[], price=None, stock=[], currency="NOK", store_id=store, first=5
    )

    assert ids == [other]


@pytest.mark.parametrize("first", [-1, 21])
async def test_alternatives_out_of_range_are_invalid_input_on_first(
    db: Database, embedded: EmbeddedEngine, first: int
) -> None:
    row = await product_row(db, await add_product(db))

    with pytest.raises(InvalidInput) as raised:
        await alternatives(embedded, row, first=first)

    assert (raised.value.field, raised.value.message) == (
        "first",
        "Ask for 0 to 20 alternatives.",
    )


async def test_no_alternatives_asked_or_an_engine_down_give_none(
    db: Database, tmp_path: Path
) -> None:
    product = await add_product(db, name="Grovbrød", categories=["Bakery"])
    other = await add_product(db, name="Kneippbrød", categories=["Bakery"])
    row = await product_row(db, product)
    engine = EmbeddedEngine(tmp_path / "search")
    await engine.ensure_ready()
    await index_products(db, engine, [product, other])
    up = await alternatives(engine, row, first=5)
    asked_none = await alternatives(engine, row, first=0)
    await engine.close()

    down = await alternatives(engine, row, first=5)

    assert (up, asked_none, down) == ([other], [], [])
