"""Benchmark ``import_catalog`` on a 30,000-row JSON Lines file against a bare executemany.

Builds N rows (default 30,000) by repeating the demo catalog (``server/demo/products.jsonl``,
2,025 Open Food Facts products), each copy with a varied name and a fresh valid EAN-13 (GS1
check digit from ``stdnum``), so every row is accepted; then imports it into a fresh,
migrated SQLite file and, when ``OMNICART_BENCH_DATABASE_URL`` or
``OMNICART_TEST_DATABASE_URL`` names a PostgreSQL server, into a temporary database created
and dropped on it.

Figures per database: the first import (every row a new product: barcode lookup, product,
barcode and outbox INSERTs, per ``--batch-size`` rows), a second import of the same file
(every row unchanged: lookups and comparisons only), and the baseline: reading and parsing
the same file and one plain executemany INSERT of its rows into a bare table with no
index, in the same database. The ratio is import time / baseline time.

Run: ``.venv/bin/python bench/import_catalog.py [--rows 30000] [--batch-size 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, Integer, MetaData, String, Text, insert
from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import make_url
from stdnum import ean

# This file is bench/import_catalog.py: put the repository first so "server" is the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.db import Database  # noqa: E402
from server.importer import import_catalog  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402

CATALOG = Path(__file__).resolve().parents[1] / "server" / "demo" / "products.jsonl"
VARIANTS = [
    "Classic", "Light", "Organic", "Family Pack", "Mini", "Extra", "Original", "Zero",
    "Premium", "Bio", "Økologisk", "Stor", "Lille", "Smart", "Eko", "Max", "Fresh", "Gold",
]  # fmt: skip
# Norwegian, Swedish, Danish and Finnish GS1 prefixes: never restricted circulation.
PREFIXES = ["709", "738", "579", "649"]

baseline_metadata = MetaData()
baseline_table = SqlTable(
    "bench_import_baseline",
    baseline_metadata,
    Column("id", Integer, primary_key=True),
    Column("gtin", String(14)),
    Column("name", String(300)),
    Column("brand", String(200)),
    Column("quantity", String(100)),
    Column("image_url", String(1000)),
    Column("row", Text),
)


@dataclass(frozen=True)
class Figures:
    """Timings of one database."""

    database: str
    rows: int
    first: float
    again: float
    baseline: float


def build_file(path: Path, rows: int) -> None:
    """Write ``rows`` JSON lines: the sample repeated, fresh valid EAN-13s, varied names."""
    sample = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines()]
    counter = itertools.count(1)
    with path.open("w", encoding="utf-8") as out:
        for n, row in zip(range(rows), itertools.cycle(sample), strict=False):
            body = f"{PREFIXES[n % len(PREFIXES)]}{next(counter):09d}"
            copy = dict(row)
            copy["code"] = body + ean.calc_check_digit(body)
            copy["product_name"] = (
                f"{row['product_name']} {VARIANTS[n % len(VARIANTS)]} {n // 1000}"
            )
            out.write(json.dumps(copy, ensure_ascii=False) + "\n")


async def baseline(db: Database, path: Path) -> float:
    """Time reading the file and one executemany INSERT of its rows into a bare table."""
    async with db.engine.begin() as conn:
        await conn.run_sync(baseline_metadata.create_all)
    started = time.perf_counter()
    values = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            values.append(
                {"gtin": row["code"].zfill(14), "name": row["product_name"], "brand": row["brands"],
                 "quantity": row["quantity"], "image_url": row["image_url"], "row": line}
            )  # fmt: skip
    async with db.transaction(write=True) as session:
        await session.execute(insert(baseline_table), values)
    return time.perf_counter() - started


async def measure(name: str, url: str, path: Path, rows: int, batch_size: int) -> Figures:
    """Migrate a fresh database at ``url`` and time the imports and the baseline on it."""
    db = Database(url)
    try:
        await upgrade_to_head(db)
        started = time.perf_counter()
        first = await import_catalog(db, path, currency="NOK", batch_size=batch_size)
        first_s = time.perf_counter() - started
        assert (first.created, first.rejected) == (rows, 0), first
        started = time.perf_counter()
        again = await import_catalog(db, path, currency="NOK", batch_size=batch_size)
        again_s = time.perf_counter() - started
        assert (again.created, again.updated, again.unchanged) == (0, 0, rows), again
        return Figures(name, rows, first_s, again_s, await baseline(db, path))
    finally:
        await db.dispose()


async def on_postgres(admin_url: str, path: Path, rows: int, batch_size: int) -> Figures:
    """Run ``measure`` in a temporary PostgreSQL database that is dropped afterwards."""
    name = f"omnicart_bench_{uuid.uuid4().hex[:10]}"
    base = make_url(admin_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        return await measure("PostgreSQL", url, path, rows, batch_size)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    console = Console()
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="omnicart-bench-") as tmp:
        path = Path(tmp) / "catalog.jsonl"
        build_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        console.print(f"Built {args.rows:,} rows ({size_mb:.1f} MB) from {CATALOG.name}.")
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        results.append(await measure("SQLite", sqlite_url, path, args.rows, args.batch_size))
        pg_url = os.environ.get("OMNICART_BENCH_DATABASE_URL") or os.environ.get(
            "OMNICART_TEST_DATABASE_URL"
        )
        if pg_url:
            results.append(await on_postgres(pg_url, path, args.rows, args.batch_size))
        else:
            console.print("PostgreSQL skipped: set OMNICART_BENCH_DATABASE_URL to include it.")

    table = Table(title=f"import_catalog, {args.rows:,} JSONL rows, batch size {args.batch_size}")
    for column in ("database", "first import", "rows/s", "re-import (unchanged)", "rows/s",
                   "baseline executemany", "ratio import/baseline"):  # fmt: skip
        table.add_column(column, justify="right")
    for f in results:
        table.add_row(
            f.database,
            f"{f.first:.2f} s",
            f"{f.rows / f.first:,.0f}",
            f"{f.again:.2f} s",
            f"{f.rows / f.again:,.0f}",
            f"{f.baseline:.2f} s",
            f"{f.first / f.baseline:.1f}×",
        )
    console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
