"""SQLite's write burst over two real worker processes: a bounded wait, then a typed refusal.

200 adds to one cart at once, half through each worker (``test_two_worker_writes``'s
servers): a writer of one process waiting for the other's lock waits a bounded time
(``OMNICART_SQLITE_BUSY_TIMEOUT_MS``) and then answers a typed ``SERVICE_UNAVAILABLE`` (try
again), never a raw "database is locked"; whatever landed, landed once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from server.db import Database
from tests.clients import graphql
from tests.documents import CART
from tests.rows import add_product, fresh_ean13
from tests.server.test_two_worker_writes import (
    CREATE_CART,
    add_one,
    assert_unavailable,
    post,
    two_workers,
    version_of,
)


async def burst(
    sqlite_db: Database, tmp_path: Path, **settings: str
) -> tuple[list[int], list[dict[str, Any]], dict[str, Any]]:
    """200 adds to one cart at once, 100 through each worker; return versions, refusals, cart."""
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code])
    with two_workers(sqlite_db, tmp_path, **settings) as (first, second):
        async with first, second:
            cart_id, reach = await cart_when_writable(first)
            bodies = await asyncio.gather(
                *(add_one(c, cart_id, reach, code) for c in [first, second] * 100)
            )
            final = await graphql(second, CART, {"id": cart_id}, reach)
    versions = [version_of(b) for b in bodies if "errors" not in b]
    refused = [b for b in bodies if "errors" in b]
    return versions, refused, final["data"]["cart"]  # type: ignore[index]


async def cart_when_writable(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """Create a cart, trying again while the answer is SERVICE_UNAVAILABLE (as clients do).

    With a tiny busy timeout even this can meet the other worker's start-up writes.
    """
    for _ in range(200):
        body = await post(client, CREATE_CART)
        if "errors" not in body:
            payload = body["data"]["cartCreate"]  # type: ignore[index]
            return payload["cart"]["id"], {"X-Cart-Token": payload["cartToken"]}
        assert_unavailable([body])
        await asyncio.sleep(0.05)
    raise AssertionError("no cart could be created")


async def test_a_write_burst_over_two_sqlite_workers_waits_its_turn(
    sqlite_db: Database, tmp_path: Path
) -> None:
    versions, refused, cart = await burst(sqlite_db, tmp_path)
    assert_unavailable(refused)
    # Whatever landed, landed once, at consecutive versions.
    assert sorted(versions) == list(range(2, 2 + len(versions)))
    assert cart["version"] == 1 + len(versions)
    assert cart["lines"] == [{"quantity": len(versions)}]


async def test_past_the_busy_timeout_a_sqlite_writer_answers_service_unavailable(
    sqlite_db: Database, tmp_path: Path
) -> None:
    versions, refused, cart = await burst(sqlite_db, tmp_path, sqlite_busy_timeout_ms="1")
    # A millisecond is too short to wait out the other worker's writers: some give up.
    assert refused, "no writer met the other worker's lock"
    assert_unavailable(refused)
    assert sorted(versions) == list(range(2, 2 + len(versions)))
    assert cart["version"] == 1 + len(versions)
    assert cart["lines"] == ([{"quantity": len(versions)}] if versions else [])
