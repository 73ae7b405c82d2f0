"""Benchmark the NDJSON stock feed (``POST /stock/movements``) against a bare executemany.

A fresh, migrated database (SQLite in a temporary directory, or PostgreSQL with
``--database-url``) gets one store, the online warehouse and ``--products`` products with
stock in both, and a warehouse device. The server is a real uvicorn process
(``server.app:app_from_env``); this process builds the feed and POSTs it:

* **feed**: one streamed POST of ``--movements`` lines (default 100,000: sales, receipts,
  returns, adjustments and counts in both locations, in time order), applied by the server
  1,000 lines a transaction — movements per second;
* **replay**: the same file again (every line already recorded: the idempotency path);
* **batches**: ``--batches`` POSTs of 1,000 fresh lines one after another — p50/p99 per batch;
* **baseline**: one plain ``executemany`` INSERT of the same 100,000 rows into a bare table
  with no index, in the same database, from this process.

The ratio is feed time / baseline time.

Run: ``.venv/bin/python bench/stock_feed.py [--movements 100000] [--products 5000]
[--batches 20] [--database-url postgresql+asyncpg://…]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, DateTime, Integer, MetaData, String, insert
from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import make_url
from stdnum import ean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cart import omnicart_server, uvicorn_process  # noqa: E402
from bench.loadgen import percentile  # noqa: E402
from server.db import Database  # noqa: E402

console = Console(width=130)
KINDS = ["SALE"] * 7 + ["RECEIPT", "RETURN", "ADJUSTMENT", "COUNT"]
baseline_metadata = MetaData()
baseline_table = SqlTable(
    "bench_stock_baseline",
    baseline_metadata,
    Column("id", Integer, primary_key=True),
    Column("movement_id", String(100)),
    Column("gtin", String(14)),
    Column("store_id", String(40)),
    Column("kind", String(16)),
    Column("quantity", Integer),
    Column("occurred_at", DateTime(timezone=True)),
)


async def prepare(url: str, products: int) -> tuple[list[str], str, str]:
    """Migrate and fill the database; return the barcodes, the store's id and a device token."""
    from schema.ids import encode_id
    from server.accounts import add_device
    from server.migrations import upgrade_to_head
    from server.models import Product, ProductBarcode, StockLevel, StockLocation, Store, utcnow

    db = Database(url)
    try:
        await upgrade_to_head(db)
        async with db.transaction() as session:
            store = Store(code="OSL", name="Oslo", address="Storo 1", city="Oslo")
            session.add(store)
            await session.flush()
            here = StockLocation(code="LOC-OSL", store_id=store.id, online=False)
            online = StockLocation(code="ONLINE", store_id=None, online=True)
            session.add_all([here, online])
            await session.flush()
            codes = []
            for n in range(products):
                body = f"709{n + 1:09d}"
                codes.append(body + ean.calc_check_digit(body))
            await session.execute(
                insert(Product),
                [{"sku": f"SKU-{c}", "name": f"Product {c}", "categories": ["Food"],
                  "attributes": {}} for c in codes],
            )  # fmt: skip
            ids = {sku: pid for pid, sku in await session.execute(
                Product.__table__.select().with_only_columns(Product.id, Product.sku))}  # fmt: skip
            await session.execute(
                insert(ProductBarcode),
                [{"product_id": ids[f"SKU-{c}"], "gtin": "0" + c, "is_primary": True}
                 for c in codes],
            )  # fmt: skip
            await session.execute(
                insert(StockLevel),
                [{"location_id": loc, "product_id": ids[f"SKU-{c}"], "on_hand": 1000,
                  "reserved": 0, "updated_at": utcnow()}
                 for c in codes for loc in (here.id, online.id)],
            )  # fmt: skip
            _, token = await add_device(
                session, store_code="OSL", kind="warehouse", name=None, now=utcnow()
            )
        return codes, encode_id("Store", store.id), token
    finally:
        await db.dispose()


def movements(codes: list[str], store: str, count: int, tag: str) -> list[dict[str, Any]]:
    """Return ``count`` movements in time order, spread over the products and locations."""
    rng = random.Random(tag)
    start = datetime.now(UTC) - timedelta(hours=12)
    step = timedelta(hours=11) / max(count, 1)
    rows = []
    for n in range(count):
        kind = rng.choice(KINDS)
        quantity = rng.randint(1, 4)
        if kind == "ADJUSTMENT" and rng.random() < 0.5:
            quantity = -quantity
        if kind == "COUNT":
            quantity = rng.randint(0, 1000)
        rows.append(
            {"movementId": f"{tag}-{n:07d}", "gtin": rng.choice(codes),
             "storeId": store if rng.random() < 0.7 else None, "kind": kind,
             "quantity": quantity, "occurredAt": (start + step * n).isoformat()}
        )  # fmt: skip
    return rows


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    """Return the rows as NDJSON."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


async def post_feed(url: str, token: str, body: bytes) -> tuple[float, dict[str, Any]]:
    """Stream one feed to the server; return the seconds it took and the report."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        started = time.perf_counter()
        response = await client.post(
            "/stock/movements",
            content=chunks(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        )
        elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


async def baseline(url: str, rows: list[dict[str, Any]]) -> float:
    """Time parsing the same lines and one executemany INSERT of them into a bare table."""
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(baseline_metadata.create_all)
        body = ndjson(rows)
        started = time.perf_counter()
        values = []
        for line in body.splitlines():
            r = json.loads(line)
            values.append(
                {"movement_id": r["movementId"], "gtin": r["gtin"], "store_id": r["storeId"],
                 "kind": r["kind"], "quantity": r["quantity"],
                 "occurred_at": datetime.fromisoformat(r["occurredAt"])}
            )  # fmt: skip
        async with db.transaction() as session:
            await session.execute(insert(baseline_table), values)
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def run(url: str, args: argparse.Namespace, data_dir: Path) -> None:
    codes, store, token = await prepare(url, args.products)
    rows = movements(codes, store, args.movements, "night")
    body = ndjson(rows)
    console.print(
        f"{args.movements:,} movements ({len(body) / 1e6:.1f} MB) over {args.products:,} "
        f"products in 2 locations; database {make_url(url).get_backend_name()}."
    )
    env = {"OMNICART_DATABASE_URL": url, "OMNICART_DATA_DIR": str(data_dir),
           "OMNICART_INDEX_ON_START": "false", "OMNICART_LOG_LEVEL": "WARNING"}  # fmt: skip
    with uvicorn_process(omnicart_server(env), env) as server:
        feed_s, report = await post_feed(server, token, body)
        assert (report["applied"], report["rejected"]) == (args.movements, 0), report
        replay_s, again = await post_feed(server, token, body)
        assert again["replayed"] == args.movements, again
        batch_ms = []
        for n in range(args.batches):
            batch = ndjson(movements(codes, store, 1000, f"batch{n}"))
            seconds, _ = await post_feed(server, token, batch)
            batch_ms.append(seconds * 1000)
    base_s = await baseline(url, rows)
    table = Table(title=f"POST /stock/movements, {args.movements:,} NDJSON lines")
    for column in ("run", "seconds", "movements/s", "ratio to baseline"):
        table.add_column(column, justify="right")
    for name, seconds in (("feed (new)", feed_s), ("replay (all known)", replay_s),
                          ("baseline executemany", base_s)):  # fmt: skip
        rate = args.movements / seconds
        table.add_row(name, f"{seconds:.2f}", f"{rate:,.0f}", f"{seconds / base_s:.1f}×")
    console.print(table)
    console.print(
        f"Per batch of 1,000 ({args.batches} POSTs): p50 {statistics.median(batch_ms):.0f} ms, "
        f"p99 {percentile(batch_ms, 99):.0f} ms; shortfalls reported in the feed: "
        f"{report['shortfalls']:,}."
    )


async def on_postgres(admin_url: str, args: argparse.Namespace, data_dir: Path) -> None:
    """Run the bench in a temporary PostgreSQL database, dropped afterwards."""
    name = f"omnicart_bench_{uuid.uuid4().hex[:10]}"
    base = make_url(admin_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        await run(base.set(database=name).render_as_string(hide_password=False), args, data_dir)
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--database-url", help="PostgreSQL server to run on instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnicart-bench-") as tmp:
        if args.database_url:
            asyncio.run(on_postgres(args.database_url, args, Path(tmp)))
        else:
            asyncio.run(run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args, Path(tmp)))


if __name__ == "__main__":
    main()
