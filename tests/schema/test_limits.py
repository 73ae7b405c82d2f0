"""Abuse limits and the masking of unexpected failures."""

from __future__ import annotations

from pathlib import Path

from server.db import Database
from tests.factories import client_for, graphql

DEEP = "{ stores { id " + "".join("__typename " for _ in range(3)) + "} }"


async def test_aliases_beyond_the_limit_are_refused(sqlite_db: Database, tmp_path: Path) -> None:
    query = "{ " + " ".join(f"s{i}: stores {{ id }}" for i in range(40)) + " }"
    async with client_for(sqlite_db, tmp_path, max_aliases=30) as client:
        body = await graphql(client, query)
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]


async def test_too_many_tokens_are_refused(sqlite_db: Database, tmp_path: Path) -> None:
    query = "{ stores { " + " ".join("id" for _ in range(300)) + " } }"
    async with client_for(sqlite_db, tmp_path, max_query_tokens=200) as client:
        body = await graphql(client, query)
    assert body["data"] is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_too_deep_queries_are_refused(sqlite_db: Database, tmp_path: Path) -> None:
    query = """{ product(gtin: "7038010009457") { availability { here { store { id } } } } }"""
    async with client_for(sqlite_db, tmp_path, max_query_depth=3) as client:
        body = await graphql(client, query)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_oversized_bodies_get_413_in_the_shared_error_shape(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path, max_body_bytes=2048) as client:
        response = await client.post(
            "/graphql", json={"query": "{ stores { id } }", "pad": "x" * 5000}
        )
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": "Request bodies are limited to 2048 bytes.",
            "field": None,
        }
    }


async def test_bad_global_ids_are_typed_errors(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        body = await graphql(client, '{ node(id: "!!notbase64") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
