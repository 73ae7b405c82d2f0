"""The Meilisearch engine's requests, task handling and failures, without a Meilisearch server.

The SDK talks real HTTP to a small stand-in on loopback that answers with Meilisearch's
documented JSON shapes and records what it was sent. Behaviour against a real server is
pinned by the contract suite (``OMNICART_TEST_MEILI_URL``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from search.documents import ProductDocument
from search.engine import (
    SearchEngineError,
    SearchEngineUnavailable,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from search.meili import MeiliEngine
from search.meili_requests import (
    TEXT_ATTRIBUTES,
    filter_expressions,
    page_window,
    quote,
    to_meili_document,
)

WHEN = "2026-01-01T00:00:00Z"
UID = "products_test"


@dataclass
class FakeMeilisearch:
    """Answers the endpoints the engine uses; records (method, path, body) of every request."""

    url: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    indexes: set[str] = field(default_factory=set)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    search_results: list[dict[str, Any]] = field(default_factory=list)
    fail_documents: bool = False
    search_status: int = 200

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", self.health),
                Route("/indexes", self.create_index, methods=["POST"]),
                Route("/indexes/{uid}", self.get_index),
                Route("/indexes/{uid}/settings", self.settings, methods=["PATCH"]),
                Route("/indexes/{uid}/documents", self.documents, methods=["POST"]),
                Route("/indexes/{uid}/documents/{id}", self.document),
                Route("/indexes/{uid}/search", self.search, methods=["POST"]),
                Route("/tasks/{task}", self.task),
            ]
        )

    async def record(self, request: Request) -> Any:
        body = await request.json() if await request.body() else None
        self.requests.append((request.method, request.url.path, body))
        return body

    def enqueue(self, uid: str, kind: str, error: dict[str, str] | None = None) -> JSONResponse:
        number = len(self.tasks) + 1
        self.tasks[number] = {
            "uid": number,
            "indexUid": uid,
            "status": "failed" if error else "succeeded",
            "type": kind,
            "error": error,
            "enqueuedAt": WHEN,
            "finishedAt": WHEN,
        }
        info = {"taskUid": number, "indexUid": uid, "status": "enqueued", "type": kind}
        return JSONResponse({**info, "enqueuedAt": WHEN}, status_code=202)

    @staticmethod
    def error(status: int, code: str, message: str) -> JSONResponse:
        body = {"message": message, "code": code, "type": "invalid_request", "link": ""}
        return JSONResponse(body, status_code=status)

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "available"})

    async def create_index(self, request: Request) -> JSONResponse:
        body = await self.record(request)
        self.indexes.add(body["uid"])
        return self.enqueue(body["uid"], "indexCreation")

    async def get_index(self, request: Request) -> JSONResponse:
        await self.record(request)
        uid = request.path_params["uid"]
        if uid not in self.indexes:
            return self.error(404, "index_not_found", f"Index `{uid}` not found.")
        return JSONResponse({"uid": uid, "primaryKey": "id", "createdAt": WHEN, "updatedAt": WHEN})

    async def settings(self, request: Request) -> JSONResponse:
        await self.record(request)
        return self.enqueue(request.path_params["uid"], "settingsUpdate")

    async def documents(self, request: Request) -> JSONResponse:
        await self.record(request)
        error = None
        if self.fail_documents:
            error = {
                "message": "Document identifier `x` is invalid.",
                "code": "invalid_document_id",
                "type": "invalid_request",
                "link": "",
            }
        return self.enqueue(request.path_params["uid"], "documentAdditionOrUpdate", error)

    async def document(self, request: Request) -> JSONResponse:
        await self.record(request)
        return self.error(404, "document_not_found", "Document `999` not found.")

    async def search(self, request: Request) -> JSONResponse:
        await self.record(request)
        if self.search_status != 200:
            return self.error(self.search_status, "internal", "Meilisearch is overloaded.")
        return JSONResponse(self.search_results.pop(0))

    async def task(self, request: Request) -> JSONResponse:
        return JSONResponse(self.tasks[int(request.path_params["task"])])


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeilisearch]:
    meilisearch = FakeMeilisearch()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # connections queue until uvicorn accepts them
    meilisearch.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(meilisearch.app(), log_level="error", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    yield meilisearch
    server.should_exit = True
    await serving
    listener.close()


@pytest.fixture
async def engine(fake: FakeMeilisearch) -> AsyncIterator[MeiliEngine]:
    meili = MeiliEngine(fake.url, "key", index_uid=UID)
    yield meili
    await meili.close()


def search_result(hits: list[dict[str, Any]], facets: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "hits": hits,
        "query": "",
        "processingTimeMs": 3,
        "hitsPerPage": 20,
        "page": 1,
        "totalPages": 1,
        "totalHits": len(hits),
        "facetDistribution": facets,
    }


async def test_ensure_ready_creates_the_index_and_applies_settings(
    engine: MeiliEngine, fake: FakeMeilisearch
) -> None:
    await engine.ensure_ready()
    create = next(body for method, _, body in fake.requests if method == "POST")
    settings = next(body for method, _, body in fake.requests if method == "PATCH")
    assert create == {"uid": UID, "primaryKey": "id"}
    assert settings["searchableAttributes"] == [
        "search_name",
        "search_brand",
        "search_categories",
        "barcodes",
        "search_description",
    ]
    assert settings["typoTolerance"] == {
        "enabled": True,
        "disableOnAttributes": ["barcodes"],
        "disableOnNumbers": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
    }
    assert settings["rankingRules"] == [
        "sort", "words", "typo", "proximity", "attribute", "exactness", "id:asc",
    ]  # fmt: skip
    assert settings["sortableAttributes"] == ["price", "name_sort", "id"]


async def test_failed_task_raises_search_engine_error(
    engine: MeiliEngine, fake: FakeMeilisearch
) -> None:
    fake.fail_documents = True
    with pytest.raises(SearchEngineError, match="failed: invalid_document_id Document identifier"):
        await engine.index([ProductDocument(id=1, name="Smør")])


async def test_text_search_request_and_response(engine: MeiliEngine, fake: FakeMeilisearch) -> None:
    fake.search_results.append(
        search_result(
            [{"id": 5, "name": "Smørbar"}],
            {"brand": {"Arla": 1}, "categories": {"Smør": 1, "Mejeri": 1}},
        )
    )
    response = await engine.search(SearchRequest(query="Arla Smør", brands=["Arla"], offset=20))
    _, path, body = fake.requests[-1]
    assert response == SearchResponse(
        hits=[SearchHit(id=5, highlight="<mark>Smørbar</mark>")],
        total=1,
        facets={"brand": [("Arla", 1)], "category": [("Mejeri", 1), ("Smør", 1)]},
        processing_time_ms=3,
    )
    assert (path, body["q"], body["filter"], body["sort"]) == (
        f"/indexes/{UID}/search",
        "arla smor",
        ['brand_key IN ["arla"]'],
        None,
    )
    assert (body["attributesToSearchOn"], body["matchingStrategy"]) == (TEXT_ATTRIBUTES, "all")
    assert (body["page"], body["hitsPerPage"], body["facets"]) == (2, 20, ["brand", "categories"])


async def test_barcode_search_is_exact_then_prefix_filters(
    engine: MeiliEngine, fake: FakeMeilisearch
) -> None:
    fake.search_results += [
        search_result([{"id": 10, "name": "Tyggegummi"}], {"brand": {"Stimorol": 1}}),
        search_result([{"id": 1, "name": "Smør"}], {"brand": {"Lurpak": 1, "Stimorol": 1}}),
    ]
    response = await engine.search(SearchRequest(query="57409009", facets=("brand",)))
    exact = 'barcodes IN ["57409009", "000057409009", "0000057409009", "00000057409009"]'
    assert [(body["q"], body["filter"], body["sort"]) for _, _, body in fake.requests] == [
        (None, [exact], ["id:asc"]),
        (None, ['barcode_prefixes = "57409009"', f"NOT {exact}"], ["id:asc"]),
    ]
    assert (response.hits, response.total, response.facets) == (
        [SearchHit(id=10), SearchHit(id=1)],
        2,
        {"brand": [("Stimorol", 2), ("Lurpak", 1)]},
    )


async def test_brand_spellings_from_both_barcode_groups_are_one_facet_value(
    engine: MeiliEngine, fake: FakeMeilisearch
) -> None:
    fake.search_results += [
        search_result([{"id": 10, "name": "Nutella"}], {"brand": {"ferrero": 1}}),
        search_result(
            [{"id": 1, "name": "Rocher"}, {"id": 2, "name": "Bueno"}, {"id": 3, "name": "Smør"}],
            {"brand": {"Ferrero": 2, "FERRERO": 1, "Lurpak": 1}},
        ),
    ]
    response = await engine.search(SearchRequest(query="8000500", facets=("brand",)))
    assert response.facets == {"brand": [("Ferrero", 4), ("Lurpak", 1)]}


async def test_unknown_document_is_none(engine: MeiliEngine) -> None:
    assert await engine.get(999) is None


async def test_server_error_makes_search_unavailable(
    engine: MeiliEngine, fake: FakeMeilisearch
) -> None:
    fake.search_status = 503
    with pytest.raises(SearchEngineUnavailable, match="overloaded"):
        await engine.search(SearchRequest(query="smør"))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_server_makes_search_unavailable(closed_port: int) -> None:
    engine = MeiliEngine(f"http://127.0.0.1:{closed_port}", None)
    with pytest.raises(SearchEngineUnavailable, match="unreachable"):
        await engine.search(SearchRequest(query="smør"))
    await engine.close()


async def test_unreachable_server_reports_unhealthy(closed_port: int) -> None:
    engine = MeiliEngine(f"http://127.0.0.1:{closed_port}", None)
    health = await engine.health()
    await engine.close()
    assert (health.ok, health.engine, health.documents) == (False, "meilisearch", None)


async def test_unreachable_server_fails_ensure_ready(closed_port: int) -> None:
    engine = MeiliEngine(f"http://127.0.0.1:{closed_port}", None)
    with pytest.raises(SearchEngineUnavailable):
        await engine.ensure_ready()
    await engine.close()


def test_filters_become_meilisearch_expressions() -> None:
    request = SearchRequest(
        categories=["Mælk", 'Te "grøn"'], brands=["Arla"], price_min=100, price_max=900,
        in_stock_at=3,
    )  # fmt: skip
    assert filter_expressions(request) == [
        'category_keys IN ["maelk", "te gron"]',
        'brand_key IN ["arla"]',
        "price >= 100",
        "price <= 900",
        "in_stock_at = 3",
    ]


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize(
    ("offset", "limit", "window"),
    [(0, 20, (1, 20, 0)), (40, 20, (3, 20, 0)), (5, 20, (1, 25, 5)), (7, 0, (1, 0, 0))],
)
def test_page_window(offset: int, limit: int, window: tuple[int, int, int]) -> None:
    assert page_window(offset, limit) == window


def test_meilisearch_document_carries_folded_search_fields() -> None:
    doc = ProductDocument(
        id=7, name="Sødmælk 3,5%", brand="Thise", categories=["Mejeri", "Mælk"],
        barcodes=["5901234123457"], price=1295,
    )  # fmt: skip
    data = to_meili_document(doc)
    assert {key: data[key] for key in data if key not in doc.to_dict()} == {
        "search_name": "sodmaelk 3 5",
        "search_brand": "thise",
        "search_categories": ["mejeri", "maelk"],
        "search_description": "",
        "brand_key": "thise",
        "category_keys": ["mejeri", "maelk"],
        "barcode_prefixes": [
            "5901", "59012", "590123", "5901234", "59012341", "590123412", "5901234123",
            "59012341234", "590123412345", "5901234123457",
        ],
        "name_sort": "sodmaelk 3 5",
    }  # fmt: skip
