"""Several server workers on the embedded default: SQLite, the tantivy index, no Redis.

Each worker is a real uvicorn process over the same SQLite file and data dir, as
``omnicart serve --workers N`` runs them: live events go through the database, one worker
writes the search index and the others read it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from filelock import FileLock, Timeout

from server.db import Database
from tests.clients import TEST_PASSWORD_HASHING, graphql
from tests.live import WAIT, serve_in_process
from tests.rows import add_product, fresh_ean13
from tests.server.test_live_carts import share_cart_events

FIND = """
query Find($query: String!) { search(query: $query, first: 5) { edges { node { name } } } }
"""


def worker_env(db: Database, tmp_path: Path) -> dict[str, str]:
    """The environment `omnicart serve --workers 2` gives its workers, on this database."""
    return {
        "OMNICART_DATABASE_URL": db.url,
        "OMNICART_BROKER_URL": "database",
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_DATA_DIR": str(tmp_path / "data"),
        "OMNICART_PASSWORD_HASH_PROFILE": TEST_PASSWORD_HASHING["password_hash_profile"],
        # Pools sized as docs/operations.md asks (workers × connections < max_connections):
        # a worker's write, side and read pools under a 50-request burst stay near 25
        # connections, so two workers and the other test processes fit in PostgreSQL's
        # default 100. At the old defaults (10 + 20 overflow each) one burst test took them all.
        "OMNICART_DB_POOL_SIZE": "4",
        "OMNICART_DB_MAX_OVERFLOW": "6",
    }


async def found_names(base_url: str, query: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        body = await graphql(client, FIND, {"query": query})
    return [edge["node"]["name"] for edge in body["data"]["search"]["edges"]]  # type: ignore[index]


async def wait_until_found(base_url: str, query: str, name: str) -> list[str]:
    """Search until ``name`` is among the hits (the indexer runs every half second)."""
    deadline = time.monotonic() + 3 * WAIT
    while True:
        names = await found_names(base_url, query)
        if name in names or time.monotonic() > deadline:
            return names
        await asyncio.sleep(0.1)


async def test_two_workers_share_live_cart_events(sqlite_db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code], name="Te")
    env = worker_env(sqlite_db, tmp_path)
    with serve_in_process(env) as first, serve_in_process(env) as second:
        await share_cart_events(first, second, code, name="Te")


async def test_one_worker_writes_the_index_the_other_reads_and_takes_over(
    sqlite_db: Database, tmp_path: Path
) -> None:
    await add_product(sqlite_db, name="Zanzibar kaffe")
    indexer_lock = tmp_path / "data" / "search.indexer.lock"
    env = worker_env(sqlite_db, tmp_path)
    with ExitStack() as first_running:
        # Started alone, the first worker takes the lock and builds the index.
        first_url = first_running.enter_context(serve_in_process(env))
        assert await wait_until_found(first_url, "zanzibar", "Zanzibar kaffe") == ["Zanzibar kaffe"]
        with serve_in_process(env) as second_url:
            await add_product(sqlite_db, name="Pemba chai")
            # Indexed by the first worker, found through the second: its reader reloaded.
            assert await wait_until_found(second_url, "pemba", "Pemba chai") == ["Pemba chai"]
            assert await found_names(first_url, "pemba") == ["Pemba chai"]
            with pytest.raises(Timeout):
                FileLock(indexer_lock, thread_local=False).acquire(blocking=False)
            first_running.close()
            # The first worker is gone; the second takes the lock and indexes the next change.
            await add_product(sqlite_db, name="Unguja kakao")
            assert await wait_until_found(second_url, "unguja", "Unguja kakao") == ["Unguja kakao"]
