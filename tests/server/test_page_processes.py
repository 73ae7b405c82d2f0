"""The product-page read model across real processes: other workers, and a killed indexer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from server.db import Database
from server.models import OutboxEvent, Product, ProductPage
from server.product_pages import build_pages, decode_page
from server.seed import seed_demo
from tests.clients import collect_at, place_order, settings_for
from tests.live import ROOT, WAIT, serve_in_process
from tests.server.test_product_pages import page_of, shop
from tests.server.test_workers import worker_env


async def drained(db: Database) -> bool:
    """True once the indexer has written every pending change's page."""
    async with db.transaction(write=False) as session:
        pending = (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()
        pages = (await session.execute(select(func.count(ProductPage.product_id)))).scalar_one()
    return pending == 0 and pages > 0


async def wait_for(condition: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_checkout_in_another_worker_shows_there_within_the_notice_delivery(
    db: Database, tmp_path: Path
) -> None:
    code, store_id, _, store = await shop(db)
    # A long cache life: only the change notice can make the other worker read again in time.
    env = {**worker_env(db, tmp_path), "OMNICART_PAGE_CACHE_SECONDS": "600"}
    with serve_in_process(env) as first, serve_in_process(env) as second:
        await wait_for(lambda: drained(db), 3 * WAIT)
        async with (
            httpx.AsyncClient(base_url=first, timeout=10) as on_first,
            httpx.AsyncClient(base_url=second, timeout=10) as on_second,
        ):
            for _ in range(5):  # both workers hold the page in their caches
                assert (await page_of(on_second, code, store))["availability"]["here"] == {
                    "available": 5,
                    "status": "IN_STOCK",
                }
                await page_of(on_first, code, store)
                await asyncio.sleep(0.05)
            await place_order(on_first, [(code, 2)], collect_at(store_id))
            placed = time.monotonic()
            on_the_same = await page_of(on_first, code, store)
            while (seen := await page_of(on_second, code, store))["availability"]["here"][
                "available"
            ] != 3:
                # The database broker polls every 50 ms: one second is twenty polls.
                assert time.monotonic() - placed < 1.0, seen
                await asyncio.sleep(0.01)
    assert on_the_same["availability"]["here"] == {"available": 3, "status": "LOW_STOCK"}


def indexer_process(db: Database, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Start `omnicart indexer` over the test database, polling the outbox every 0.1 s."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMNICART_DATABASE_URL": db.url,
        "OMNICART_DATA_DIR": str(tmp_path / "data"),
        "OMNICART_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "omnicart.cli", "indexer", "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


async def counts(db: Database) -> tuple[int, int]:
    async with db.transaction(write=False) as session:
        pending = (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()
        pages = (await session.execute(select(func.count(ProductPage.product_id)))).scalar_one()
    return pending, pages


async def test_the_read_model_survives_kill_9_mid_update_and_is_rebuilt_consistent(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db, tmp_path / "data")
    await seed_demo(db, settings)  # 2,025 products, each with an outbox row
    process = indexer_process(db, tmp_path)
    try:
        deadline = time.monotonic() + 6 * WAIT
        while True:
            pending, pages = await counts(db)
            if pages > 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    pending, pages = await counts(db)
    assert pages > 0 and pending > 0, (pending, pages)  # killed with the update half done
    restarted = indexer_process(db, tmp_path)
    try:
        await wait_for(lambda: drained(db), 12 * WAIT)
    finally:
        restarted.terminate()
        restarted.wait(WAIT)
    async with db.transaction(write=False) as session:
        ids = list((await session.execute(select(Product.id))).scalars())
        fresh, gone = await build_pages(session, ids, settings.currency)
        stored = {
            product_id: decode_page(document)
            for product_id, document in await session.execute(
                select(ProductPage.product_id, ProductPage.document)
            )
        }
    assert gone == []
    assert len(stored) == len(fresh) == 2025
    assert stored == fresh
