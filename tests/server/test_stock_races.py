"""Concurrent tills on a real server: every sale lands once, on hand never goes negative,
reservations stay as they were, and the stock check finds nothing to repair afterwards."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx

from server.db import Database
from server.stock.reconcile import check_stock
from tests.clients import collect_at, place_order, settings_for
from tests.live import serve_in_thread
from tests.rows import add_device, store_with_product
from tests.stock_helpers import level, movement, record

TILLS = 20
SALES_PER_TILL = 500


async def test_20_tills_selling_one_hot_product_at_once_take_exactly_what_they_sold(
    db: Database, tmp_path: Path
) -> None:
    start = 25_000
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=start)
    tokens = [await add_device(db, "OSL", "pos") for _ in range(TILLS)]
    rng = random.Random(13)
    calls = [
        [movement(code, store_id, "SALE", rng.randint(1, 3)) for _ in range(SALES_PER_TILL)]
        for _ in tokens
    ]
    sold = sum(m["quantity"] for call in calls for m in call)
    settings = settings_for(db, tmp_path, index_on_start=False)
    with serve_in_thread(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            await place_order(client, [(code, 4)], collect_at(store_id))
            results = await asyncio.gather(
                *(record(client, token, call) for token, call in zip(tokens, calls, strict=True))
            )
            # Every till retries its whole call: nothing changes twice.
            replays = await asyncio.gather(
                *(record(client, token, call) for token, call in zip(tokens, calls, strict=True))
            )
    assert [(r["applied"], r["shortfalls"], r["errors"]) for r in results] == [
        (SALES_PER_TILL, [], [])
    ] * TILLS
    assert [(r["applied"], r["replayed"]) for r in replays] == [(0, SALES_PER_TILL)] * TILLS
    assert await level(db, location, product_id) == (start - sold, 4)
    async with db.transaction(write=False) as session:
        report = await check_stock(session)
    assert report.drifts == []


async def test_tills_selling_more_than_there_is_stop_at_the_reserved_units(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=50)
    tokens = [await add_device(db, "OSL", "pos") for _ in range(5)]
    calls = [[movement(code, store_id, "SALE", 1) for _ in range(20)] for _ in tokens]
    settings = settings_for(db, tmp_path, index_on_start=False)
    with serve_in_thread(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            await place_order(client, [(code, 6)], collect_at(store_id))
            results = await asyncio.gather(
                *(record(client, token, call) for token, call in zip(tokens, calls, strict=True))
            )
    shortfalls = [s for r in results for s in r["shortfalls"]]
    # 100 units sold, 44 could be taken: 56 sales each ate into the 6 reserved units.
    assert len(shortfalls) == 56
    assert {(s["applied"], s["unknownUnits"], s["reservedUnits"]) for s in shortfalls} == {
        (0, 0, 1)
    }
    assert await level(db, location, product_id) == (6, 6)
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []


async def test_a_call_retried_while_the_first_is_still_running_applies_once(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=100)
    till = await add_device(db, "OSL", "pos")
    call = [movement(code, store_id, "SALE", 2) for _ in range(50)]
    settings = settings_for(db, tmp_path, index_on_start=False)
    with serve_in_thread(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            results = await asyncio.gather(*(record(client, till, call) for _ in range(8)))
    assert sorted((r["applied"], r["replayed"], r["errors"]) for r in results) == [
        (0, 50, [])
    ] * 7 + [(50, 0, [])]
    assert await level(db, location, product_id) == (0, 0)
