"""Benchmark the embedded search engine (tantivy) against SQLite FTS5 on the same products.

Builds N products (default 100,000) from the demo catalog (``server/demo/products.jsonl``,
Open Food Facts), each copy with a varied name and a fresh valid EAN-13 (GS1 check digit from
``stdnum``), indexes them into both, then times three kinds of shopper queries derived from
the data:

* as-you-type prefixes: the first 3–5 letters of a name word ("cho", "knäc");
* typo'd words: a name word of 6+ letters with one edit after the first letter;
* barcode prefixes: the first 4–9 digits of a product's barcode.

FTS5 (unicode61, diacritics removed, prefix indexes 2–4) gets prefix queries on the last
word and has no typo tolerance; the table reports what each engine finds as well as how fast.
The tantivy figures are the engine's full ``search()``: exact total, brand and category
facets, highlights. FTS5 computes the top 20 by bm25 plus a count.

Run: ``.venv/bin/python bench/search.py [--products 100000] [--queries 200]`` (about 15 s
on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from stdnum import ean

# This file is bench/search.py: put the repository first so "search" is the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.documents import ProductDocument  # noqa: E402
from search.embedded import EmbeddedEngine  # noqa: E402
from search.engine import SearchRequest  # noqa: E402

CATALOG = Path(__file__).resolve().parents[1] / "server" / "demo" / "products.jsonl"
VARIANTS = [
    "Classic", "Light", "Organic", "Family Pack", "Mini", "Extra", "Original", "Zero",
    "Premium", "Bio", "Økologisk", "Stor", "Lille", "Smart", "Eko", "Max", "Fresh", "Gold",
]  # fmt: skip
GS1_PREFIXES = [
    f"{p:03d}"
    for p in (
        *range(570, 580),
        *range(730, 740),
        *range(640, 650),
        *range(700, 710),
        *range(400, 441),
        *range(300, 380),
    )
]
PAGE = 20
STORES = range(1, 11)


@dataclass(slots=True)
class Query:
    """One benchmark query and the product it was derived from."""

    kind: str
    text: str
    source_id: int


@dataclass(slots=True)
class Measured:
    """Latencies (seconds) and what the engine found for one query kind."""

    latencies: list[float]
    with_results: int
    source_in_page: int

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def humanize_category(tag: str) -> str:
    label = tag.split(":", 1)[1] if ":" in tag[:4] else tag
    return label.replace("-", " ").strip()


def build_products(count: int, seed: int, catalog: Path = CATALOG) -> list[ProductDocument]:
    """Return ``count`` products: the sample repeated with varied names and fresh barcodes."""
    rows = [json.loads(line) for line in catalog.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    products = []
    for index in range(count):
        row = rows[index % len(rows)]
        copy = index // len(rows)
        name = row["product_name"]
        if copy:
            name = f"{name} {VARIANTS[(copy + index) % len(VARIANTS)]} {copy}"
        # A fresh, valid EAN-13: a real GS1 prefix, a company number, an item number.
        body = f"{rng.choice(GS1_PREFIXES)}{rng.randrange(10**9):09d}"
        code = body + ean.calc_check_digit(body)
        categories = [humanize_category(tag) for tag in row["categories"] if tag != "en:null"]
        products.append(
            ProductDocument(
                id=index + 1,
                name=name,
                brand=row["brands"],
                categories=categories,
                barcodes=[code, "0" + code],
                price=rng.randrange(500, 20_000, 5),
                currency="DKK",
                in_stock_at=sorted(rng.sample(list(STORES), rng.randrange(0, 4))),
                in_stock_online=rng.random() < 0.7,
                quantity=row["quantity"],
            )
        )
    return products


def typo(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word) - 1)
    edit = rng.choice(("substitute", "transpose", "delete"))
    if edit == "substitute":
        letter = rng.choice([c for c in "aeiourstnl" if c != word[position]])
        return word[:position] + letter + word[position + 1 :]
    if edit == "transpose" and word[position] != word[position + 1]:
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    return word[:position] + word[position + 1 :]


def build_queries(
    products: list[ProductDocument], per_kind: int, seed: int
) -> dict[str, list[Query]]:
    rng = random.Random(seed)
    queries: dict[str, list[Query]] = {"as-you-type": [], "typo": [], "barcode prefix": []}
    while min(len(batch) for batch in queries.values()) < per_kind:
        product = rng.choice(products)
        name_words = [w for w in product.name.split() if w.isalpha()]
        long_words = [w for w in name_words if len(w) >= 6]
        if name_words and len(queries["as-you-type"]) < per_kind:
            word = rng.choice(name_words)
            if len(word) >= 3:
                prefix = word[: rng.randrange(3, min(5, len(word)) + 1)]
                queries["as-you-type"].append(Query("as-you-type", prefix, product.id))
        if long_words and len(queries["typo"]) < per_kind:
            queries["typo"].append(Query("typo", typo(rng.choice(long_words), rng), product.id))
        if len(queries["barcode prefix"]) < per_kind:
            digits = product.barcodes[0][: rng.randrange(4, 10)]
            queries["barcode prefix"].append(Query("barcode prefix", digits, product.id))
    return queries


class Fts5Baseline:
    """SQLite FTS5 over the same products: prefix queries, bm25 order, no typo tolerance."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE VIRTUAL TABLE products USING fts5(name, brand, categories, barcodes, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
        )

    def index(self, products: list[ProductDocument]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT INTO products(rowid, name, brand, categories, barcodes) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    (p.id, p.name, p.brand or "", " ".join(p.categories), " ".join(p.barcodes))
                    for p in products
                ),
            )

    def search(self, query: Query) -> list[int]:
        if query.kind == "barcode prefix":
            match = f'barcodes : "{query.text}"*'
        else:
            terms = [w.replace('"', "") for w in query.text.split()]
            if not terms:
                return []
            match = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
            match = "{name brand categories} : (" + match.strip() + ")"
        rows = self.db.execute(
            "SELECT rowid FROM products WHERE products MATCH ? ORDER BY rank LIMIT ?",
            (match, PAGE),
        ).fetchall()
        self.db.execute("SELECT count(*) FROM products WHERE products MATCH ?", (match,)).fetchone()
        return [row[0] for row in rows]


async def measure(
    queries: list[Query], run: Callable[[Query], Awaitable[list[int]]]
) -> tuple[Measured, float]:
    result = Measured([], 0, 0)
    started = time.perf_counter()
    for query in queries:
        begin = time.perf_counter()
        ids = await run(query)
        result.latencies.append(time.perf_counter() - begin)
        result.with_results += bool(ids)
        result.source_in_page += query.source_id in ids
    return result, time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="queries per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--catalog", type=Path, default=CATALOG, help="OFF rows (JSON Lines)")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 110))

    console.print(f"Building {args.products:,} products from {args.catalog} …")
    products = build_products(args.products, args.seed, args.catalog)
    queries = build_queries(products, args.queries, args.seed)

    with tempfile.TemporaryDirectory(prefix="omnicart-bench-") as tmp:
        engine = EmbeddedEngine(Path(tmp) / "tantivy")
        await engine.ensure_ready()
        begin = time.perf_counter()
        await engine.index(products)
        tantivy_index_s = time.perf_counter() - begin

        fts = Fts5Baseline(Path(tmp) / "fts5.db")
        begin = time.perf_counter()
        fts.index(products)
        fts_index_s = time.perf_counter() - begin

        index_table = Table(title=f"Indexing {len(products):,} products")
        for column in ("engine", "seconds", "docs/s"):
            index_table.add_column(column, justify="right" if column != "engine" else "left")
        index_table.add_row(
            "tantivy", f"{tantivy_index_s:.2f}", f"{len(products) / tantivy_index_s:,.0f}"
        )
        index_table.add_row(
            "SQLite FTS5", f"{fts_index_s:.2f}", f"{len(products) / fts_index_s:,.0f}"
        )
        index_table.add_row(
            "ratio tantivy/FTS5", "", f"{fts_index_s / tantivy_index_s:.2f}× throughput"
        )
        console.print(index_table)

        async def tantivy_run(query: Query) -> list[int]:
            response = await engine.search(SearchRequest(query=query.text, limit=PAGE))
            return [hit.id for hit in response.hits]

        async def tantivy_bare_run(query: Query) -> list[int]:
            response = await engine.search(SearchRequest(query=query.text, limit=PAGE, facets=()))
            return [hit.id for hit in response.hits]

        async def fts_run(query: Query) -> list[int]:
            return fts.search(query)

        runners = [
            ("tantivy", tantivy_run),
            ("tantivy, no facets", tantivy_bare_run),
            ("FTS5", fts_run),
        ]
        table = Table(title=f"Queries ({args.queries} per kind, page of {PAGE}, sequential)")
        for column in (
            "kind", "engine", "p50 ms", "p99 ms", "queries/s", "with results", "source in top 20",
        ):  # fmt: skip
            table.add_column(column, justify="left" if column in ("kind", "engine") else "right")
        ratio_table = Table(
            title="tantivy ÷ FTS5 (latency below 1 = tantivy faster; queries/s above 1 = faster)"
        )
        for column in ("kind", "engine", "p50 latency", "p99 latency", "queries/s"):
            ratio_table.add_column(
                column, justify="left" if column in ("kind", "engine") else "right"
            )
        for kind, batch in queries.items():
            await tantivy_run(batch[0])  # warm the searcher and the term dictionaries
            results = {label: await measure(batch, run) for label, run in runners}
            for label, (measured, total) in results.items():
                table.add_row(
                    kind,
                    label,
                    ms(measured.percentile(0.5)),
                    ms(measured.percentile(0.99)),
                    f"{len(batch) / total:,.0f}",
                    f"{measured.with_results}/{len(batch)}",
                    f"{measured.source_in_page}/{len(batch)}",
                )
            fts_measured, fts_total = results["FTS5"]
            for label in ("tantivy", "tantivy, no facets"):
                measured, total = results[label]
                ratio_table.add_row(
                    kind,
                    label,
                    f"{measured.percentile(0.5) / fts_measured.percentile(0.5):.2f}",
                    f"{measured.percentile(0.99) / fts_measured.percentile(0.99):.2f}",
                    f"{fts_total / total:.2f}",
                )
            table.add_section()
        console.print(table)
        console.print(ratio_table)
        console.print(
            "Notes: FTS5 has no typo tolerance and no facets (it returns the bm25 top 20 plus a "
            "count); the tantivy rows are the engine's full search(): exact total, highlights, "
            "and brand/category facet counts unless marked 'no facets'."
        )
        await engine.close()
        fts.db.close()


if __name__ == "__main__":
    asyncio.run(main())
