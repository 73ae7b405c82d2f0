"""Automatic persisted queries: Apollo's convention, the PWA's documents pinned, a bounded LRU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from schema.ids import encode_id
from schema.persisted import (
    MAX_REGISTERED_CHARS,
    PREPARED_COUNTS,
    sha256_hex,
)
from server.db import Database
from server.pwa_documents import complete_documents, product_page_document
from tests.clients import client_for, graphql
from tests.rows import add_product, add_store, fresh_ean13
from tests.schema.test_limits import BOMB_COST, BUDGET, COST_BOMB

STORES = "query Stores { stores { id code } }"
UNKNOWN = "0" * 64
NOT_FOUND = {
    "data": None,
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ],
}
MISMATCH = {
    "data": None,
    "errors": [
        {"message": "provided sha does not match query", "extensions": {"code": "INVALID_INPUT"}}
    ],
}
PWA_SCAN = complete_documents()["js/screens/scan.js:SCAN"]
PWA_STORES = complete_documents()["js/screens/stores.js:STORES"]


def persisted(sha256: str) -> dict[str, Any]:
    """The APQ extension naming a document by its hash."""
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def by_hash(
    client: httpx.AsyncClient,
    sha256: str,
    variables: dict[str, Any] | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    """POST an operation by hash (with its text when given) and return the decoded body."""
    body: dict[str, Any] = {"extensions": persisted(sha256), "variables": variables or {}}
    if query is not None:
        body["query"] = query
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer, dict)
    return answer


def numbered(count: int) -> list[str]:
    """Distinct small documents, to fill the registry with."""
    return [f"query Q{i} {{ stores {{ id }} }}" for i in range(count)]


async def test_an_unknown_hash_is_persisted_query_not_found(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        assert await by_hash(client, UNKNOWN) == NOT_FOUND
        strict = await client.post(
            "/graphql",
            json={"extensions": persisted(UNKNOWN)},
            headers={"Accept": "application/graphql-response+json"},
        )
    assert strict.status_code == 400
    assert strict.json() == {"errors": NOT_FOUND["errors"]}


async def test_hash_and_text_register_the_document_then_the_hash_alone_runs_it(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, _ = await add_store(sqlite_db, "S1", "Sentrum")
    sha256 = sha256_hex(STORES)
    async with client_for(sqlite_db, tmp_path) as client:
        assert await by_hash(client, sha256) == NOT_FOUND
        registered = await by_hash(client, sha256, query=STORES)
        again = await by_hash(client, sha256)
    assert registered == {"data": {"stores": [{"id": encode_id("Store", store_id), "code": "S1"}]}}
    assert again == registered


async def test_a_hash_that_is_not_the_texts_is_refused_and_registers_nothing(
    sqlite_db: Database, tmp_path: Path
) -> None:
    other = sha256_hex(STORES + " ")
    async with client_for(sqlite_db, tmp_path) as client:
        assert await by_hash(client, other, query=STORES) == MISMATCH
        assert await by_hash(client, other) == NOT_FOUND
        assert await by_hash(client, sha256_hex(STORES)) == NOT_FOUND


async def test_a_malformed_persisted_query_is_invalid_input(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sha256 = sha256_hex(PWA_STORES)
    cases = {
        "Unsupported persisted query version": {"version": 2, "sha256Hash": sha256},
        "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits": {
            "version": 1,
            "sha256Hash": sha256[:-1] + "g",
        },
        "extensions.persistedQuery must be an object": "yes",
    }
    async with client_for(sqlite_db, tmp_path) as client:
        for message, value in cases.items():
            response = await client.post("/graphql", json={"extensions": {"persistedQuery": value}})
            assert response.json() == {
                "data": None,
                "errors": [{"message": message, "extensions": {"code": "INVALID_INPUT"}}],
            }


async def test_the_pwas_documents_run_by_hash_without_their_text(
    sqlite_db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code], name="Brunost")
    page = product_page_document()
    variables = {"gtin": code, "storeId": None}
    async with client_for(sqlite_db, tmp_path) as client:
        first = await by_hash(client, sha256_hex(page), variables)
        second = await by_hash(client, sha256_hex(page), variables)
        as_text = await graphql(client, page, variables)
        for where, text in complete_documents().items():
            answer = await by_hash(client, sha256_hex(text), {})
            assert answer != NOT_FOUND, where
    assert "errors" not in first, first
    assert first["data"]["product"]["name"] == "Brunost"
    assert second == first == as_text


async def test_a_query_by_hash_runs_over_get_and_a_mutation_by_hash_is_refused(
    sqlite_db: Database, tmp_path: Path
) -> None:
    await add_store(sqlite_db, "S1", "Sentrum")
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code])
    scan = {"input": {"code": code, "storeId": None, "deviceKind": "PHONE"}}
    async with client_for(sqlite_db, tmp_path) as client:
        stores = await client.get(
            "/graphql",
            params={"extensions": json.dumps(persisted(sha256_hex(PWA_STORES)))},
            headers={"Accept": "*/*"},
        )
        mutation = await client.get(
            "/graphql",
            params={
                "extensions": json.dumps(persisted(sha256_hex(PWA_SCAN))),
                "variables": json.dumps(scan),
            },
        )
        report = await graphql(client, "{ __typename }")
    assert stores.status_code == 200
    assert [s["code"] for s in stores.json()["data"]["stores"]] == ["S1"]
    assert mutation.status_code == 400
    assert mutation.json() == {
        "error": {
            "code": "INVALID_INPUT",
            "message": "mutations are not allowed when using GET",
            "field": None,
        }
    }
    assert report == {"data": {"__typename": "Query"}}


async def test_the_registry_forgets_the_least_recently_used_but_never_the_pwas(
    sqlite_db: Database, tmp_path: Path
) -> None:
    first, second, third, fourth = numbered(4)
    async with client_for(sqlite_db, tmp_path, max_persisted_queries=3) as client:
        for text in (first, second, third):
            assert "errors" not in await by_hash(client, sha256_hex(text), query=text)
        assert "errors" not in await by_hash(client, sha256_hex(first))  # now the most recent
        assert "errors" not in await by_hash(client, sha256_hex(fourth), query=fourth)
        assert await by_hash(client, sha256_hex(second)) == NOT_FOUND
        for text in (first, third, fourth):
            assert "errors" not in await by_hash(client, sha256_hex(text)), text
        for text in numbered(10)[4:]:
            await by_hash(client, sha256_hex(text), query=text)
        pwa = await by_hash(client, sha256_hex(PWA_STORES))
        forgotten = await by_hash(client, sha256_hex(first))
    assert pwa == {"data": {"stores": []}}
    assert forgotten == NOT_FOUND


async def test_a_document_over_the_limits_is_refused_and_never_registered(
    sqlite_db: Database, tmp_path: Path
) -> None:
    deep = "{ me { cart { lines { product { name } } } } }"
    async with client_for(sqlite_db, tmp_path, max_query_depth=2) as client:
        refused = await by_hash(client, sha256_hex(deep), query=deep)
        assert await by_hash(client, sha256_hex(deep)) == NOT_FOUND
    assert refused["data"] is None
    assert "exceeds maximum operation depth of 2" in refused["errors"][0]["message"]


async def test_the_cost_bomb_by_hash_is_still_too_costly(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sha256 = sha256_hex(COST_BOMB)
    variables = {"g": [fresh_ean13() for _ in range(100)]}
    async with client_for(sqlite_db, tmp_path) as client:
        as_text = await graphql(client, COST_BOMB, variables)
        with_text = await by_hash(client, sha256, variables, query=COST_BOMB)
        by_hash_alone = await by_hash(client, sha256, variables)
    assert as_text["data"] is None
    assert [e["extensions"] for e in as_text["errors"]] == [  # type: ignore[union-attr]
        {"code": "QUERY_TOO_COSTLY", "cost": BOMB_COST, "budget": BUDGET}
    ]
    assert with_text == by_hash_alone == as_text


def cache_lookups() -> tuple[int, int, int]:
    """Return the prepared documents' lookups and validations so far, and how many were parsed."""
    counts = PREPARED_COUNTS
    return counts["looked up"], counts["validations"], counts["parsed"]


async def test_a_document_sent_as_text_again_is_neither_parsed_nor_validated_again(
    sqlite_db: Database, tmp_path: Path
) -> None:
    text = "query StoresAgain { stores { id } }"
    async with client_for(sqlite_db, tmp_path) as client:
        first = await graphql(client, text)
        before = dict(PREPARED_COUNTS)
        again = [await graphql(client, text) for _ in range(3)]
        after = dict(PREPARED_COUNTS)
    assert first == {"data": {"stores": []}} and again == [first] * 3
    assert after["parsed"] == before["parsed"]
    assert after["validated"] == before["validated"]
    assert after["looked up"] == before["looked up"] + 3


async def test_a_pwa_document_by_hash_is_neither_parsed_nor_validated_again(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sha256 = sha256_hex(PWA_STORES)
    async with client_for(sqlite_db, tmp_path) as client:
        await by_hash(client, sha256)  # the first run validates it and keeps its AST
        before = cache_lookups()
        for _ in range(3):
            assert await by_hash(client, sha256) == {"data": {"stores": []}}
        after_hashes = cache_lookups()
        await graphql(client, PWA_STORES)
        after_text = cache_lookups()
    assert after_hashes == before
    assert after_text[:2] == (before[0] + 1, before[1] + 1)


async def test_a_registered_document_by_hash_is_answered_by_the_texts_cache_entries(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sha256 = sha256_hex(STORES)
    async with client_for(sqlite_db, tmp_path) as client:
        await by_hash(client, sha256, query=STORES)
        before = cache_lookups()
        for _ in range(3):
            assert await by_hash(client, sha256) == {"data": {"stores": []}}
        after = cache_lookups()
    # Three lookups each, and not one of them parsed the document again.
    assert after == (before[0] + 3, before[1] + 3, before[2])


async def test_a_document_too_long_to_register_runs_but_is_not_registered(
    sqlite_db: Database, tmp_path: Path
) -> None:
    long = "# " + "x" * MAX_REGISTERED_CHARS + "\n" + STORES
    async with client_for(sqlite_db, tmp_path) as client:
        ran = await by_hash(client, sha256_hex(long), query=long)
        again = await by_hash(client, sha256_hex(long))
    assert ran == {"data": {"stores": []}}
    assert again == NOT_FOUND
