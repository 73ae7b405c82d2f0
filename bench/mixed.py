"""A Saturday mix: 50 clients looking up, searching, changing carts and checking out at once.

A real uvicorn server (``omnicart.app:app_from_env``, with each ``--workers`` count, as
``omnicart serve --workers N`` runs it) over a fresh database (SQLite in a temporary
directory; then PostgreSQL: a temporary database with ``--pg-url``, or the given, empty,
database with ``--database-url``) seeded with ``--products`` products in plenty at one
store, indexed (search index and read-model pages) before the load starts. The load
runs in a process of its own (this file with ``--drive``), closed loop: each of
``--clients`` clients picks, per request, a product lookup (``product(gtin:)``, 50 %), a
search (20 %), a cart change (``cartLinesAdd`` on its own cart, 25 %) or a checkout of its
cart (5 %; click and collect, after which it starts a fresh cart), for ``--seconds``
(default 60).

The baseline, measured in the same run on the same server first: the writers alone (the
same clients doing only the cart changes and checkouts, no lookups or searches), for
``--baseline-seconds``. The table shows, per kind, requests, req/s, p50/p99 and errors,
for the mix and the baseline, and the write p50/p99 and errors of the mix next to the
baseline's (the target for the 50-client mix: write p99 < 500 ms, 0 errors).

    .venv/bin/python bench/mixed.py [--seconds 60] [--clients 50] [--baseline-seconds 10]
        [--workers 1 --workers 2] [--no-sqlite]
        [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
         | --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_mixed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.table import Table
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import console, percentile, served  # noqa: E402
from server.db import Database  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.models import (  # noqa: E402
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
)

LOOKUP = "query P($gtin: String!) { product(gtin: $gtin) { name } }"
SEARCH = "query S($q: String!) { search(query: $q, first: 10) { edges { node { name } } } }"
CREATE = "mutation { cartCreate { cart { id version } cartToken errors { code } } }"
ADD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) { cart { version } errors { code } }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { order { number } errors { code } }
}
"""
WORDS = ("kaffe", "brød", "melk", "ost", "te", "juice", "smør", "egg")
MIX = (("lookup", 50), ("search", 20), ("cart", 25), ("checkout", 5))
WRITES = ("cart", "checkout")


def gtin_of(i: int) -> str:
    """Return the ``i``-th bench barcode: an EAN-13 with its check digit, 14 digits."""
    body = f"703{100000000 + i:09d}"
    total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(body))
    return f"0{body}{(10 - total % 10) % 10}"


async def seed(url: str, products: int) -> str:
    """Migrate and create one store with ``products`` products in plenty; return its global id."""
    from schema.ids import encode_id

    db = Database(url)
    try:
        await upgrade_to_head(db)
        async with db.transaction() as session:
            store = Store(code="MIX", name="Mix store")
            session.add(store)
            await session.flush()
            location = StockLocation(code="LOC-MIX", store_id=store.id, online=False)
            session.add(location)
            await session.flush()
            for i in range(products):
                name = f"{WORDS[i % len(WORDS)].capitalize()} nr {i}"
                product = Product(sku=f"MIX-{i}", name=name, categories=[], attributes={})
                session.add(product)
                await session.flush()
                session.add(ProductBarcode(product_id=product.id, gtin=gtin_of(i)))
                session.add(Price(product_id=product.id, currency="NOK", amount=1000 + i))
                session.add(
                    StockLevel(location_id=location.id, product_id=product.id, on_hand=10**6)
                )
        return encode_id("Store", store.id)
    finally:
        await db.dispose()


# --- the load process ----------------------------------------------------------------------


class Client:
    """One shopper: a cart of their own, requests of the mix in a closed loop."""

    def __init__(self, http: httpx.AsyncClient, rng: random.Random, args: argparse.Namespace):
        self.http, self.rng, self.args = http, rng, args
        self.cart: tuple[str, int, dict[str, str]] | None = None
        self.lines = 0

    async def post(self, query: str, variables: dict[str, Any], headers: Any = None) -> Any:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
        if response.status_code >= 400 or body.get("errors"):
            raise RuntimeError(str(body)[:200])
        return body["data"]

    async def fresh_cart(self) -> None:
        payload = (await self.post(CREATE, {}))["cartCreate"]
        cart = payload["cart"]
        self.cart = (cart["id"], cart["version"], {"X-Cart-Token": payload["cartToken"]})
        self.lines = 0

    async def run(self, kind: str) -> None:
        gtin = gtin_of(self.rng.randrange(self.args.products))
        if kind == "lookup":
            await self.post(LOOKUP, {"gtin": gtin})
        elif kind == "search":
            await self.post(SEARCH, {"q": self.rng.choice(WORDS)})
        elif kind == "cart" or self.lines == 0:
            await self.add(gtin)
        else:
            await self.checkout()

    async def add(self, gtin: str) -> None:
        if self.cart is None:
            await self.fresh_cart()
        assert self.cart is not None
        cart_id, _version, reach = self.cart
        variables = {"input": {"cartId": cart_id, "lines": [{"gtin": gtin, "quantity": 1}]}}
        payload = (await self.post(ADD, variables, reach))["cartLinesAdd"]
        if payload["errors"]:
            raise RuntimeError(payload["errors"])
        self.cart = (cart_id, payload["cart"]["version"], reach)
        self.lines += 1

    async def checkout(self) -> None:
        assert self.cart is not None
        cart_id, version, reach = self.cart
        request = {
            "cartId": cart_id,
            "expectedVersion": version,
            "fulfilment": {"clickAndCollect": {"storeId": self.args.store}},
        }
        payload = (await self.post(CHECKOUT, {"input": request}, reach))["checkout"]
        if payload["errors"]:
            raise RuntimeError(payload["errors"])
        self.cart = None
        self.lines = 0


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    """Run the closed loop; return latencies (ms) and errors per kind, and the seconds."""
    kinds = [k for k, _ in MIX if not args.writes_only or k in WRITES]
    weights = [w for k, w in MIX if k in kinds]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.drive, limits=limits, timeout=60) as http:
        clients = [Client(http, random.Random(i), args) for i in range(args.clients)]
        stop = time.perf_counter() + args.seconds

        async def loop(client: Client) -> None:
            while time.perf_counter() < stop:
                kind = client.rng.choices(kinds, weights)[0]
                started = time.perf_counter()
                try:
                    await client.run(kind)
                except Exception:  # a refused or failed request: counted, the loop goes on
                    errors[kind] += 1
                    client.cart = None
                latencies[kind].append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(loop(c) for c in clients))
        took = time.perf_counter() - started
    return {"seconds": took, "latencies": latencies, "errors": errors}


# --- the bench -----------------------------------------------------------------------------


def load_from_own_process(url: str, args: argparse.Namespace, *, seconds: float, writes_only: bool):
    """Run this file with ``--drive`` in a subprocess; return its JSON figures."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--drive", url, "--store", args.store,
        "--clients", str(args.clients), "--seconds", str(seconds),
        "--products", str(args.products),
    ] + (["--writes-only"] if writes_only else [])  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout)


def rows_of(name: str, figures: dict[str, Any]) -> list[list[str]]:
    rows = []
    seconds = figures["seconds"]
    every = dict(figures["latencies"]) | {
        "writes": [v for k in WRITES for v in figures["latencies"].get(k, [])]
    }
    for kind in [k for k, _ in MIX] + ["writes"]:
        values = every.get(kind, [])
        if not values:
            continue
        errors = (
            sum(figures["errors"].get(k, 0) for k in WRITES)
            if kind == "writes"
            else figures["errors"].get(kind, 0)
        )
        rows.append(
            [
                name,
                kind,
                str(len(values)),
                f"{len(values) / seconds:,.1f}",
                f"{statistics.median(values):.1f}",
                f"{percentile(values, 99):.1f}",
                str(errors),
            ]
        )
    return rows


async def wait_indexed(url: str) -> None:
    """Wait until the server's indexer has the catalog (searches find products)."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for _ in range(600):
            body = (
                await http.post("/graphql", json={"query": SEARCH, "variables": {"q": "te"}})
            ).json()
            if body.get("data") and body["data"]["search"]["edges"]:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the catalog was not indexed within 2 minutes")


def bench(label: str, url: str, workdir: Path, args: argparse.Namespace) -> None:
    """Seed and index one database, then run baseline and mix with each worker count."""
    from bench.checkout import index_pages

    workdir.mkdir(parents=True, exist_ok=True)
    args.store = asyncio.run(seed(url, args.products))
    asyncio.run(index_pages(url, workdir))
    env = {
        "OMNICART_DATABASE_URL": url,
        "OMNICART_DATA_DIR": str(workdir),
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_MAX_LINE_QUANTITY": "1000000",
        "OMNICART_LOG_LEVEL": "WARNING",
    }
    for workers in args.workers or [1]:
        with served("omnicart.app:app_from_env", env, workers=workers) as server:
            asyncio.run(wait_indexed(server.base))
            baseline = load_from_own_process(
                server.base, args, seconds=args.baseline_seconds, writes_only=True
            )
            mixed = load_from_own_process(
                server.base, args, seconds=args.seconds, writes_only=False
            )
        report(f"{label}, {workers} worker(s)", args, baseline, mixed)


def report(label: str, args: argparse.Namespace, baseline: Any, mixed: Any) -> None:
    """Print the table of both runs and the line on the mix's writes."""
    table = Table(title=f"{label}: {args.clients} clients, mix {args.seconds:g} s")
    for column in ("run", "kind", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("run", "kind") else "right")
    for row in rows_of("writers alone (baseline)", baseline) + rows_of("mix", mixed):
        table.add_row(*row)
    console.print(table)
    writes = [v for k in WRITES for v in mixed["latencies"].get(k, [])]
    alone = [v for k in WRITES for v in baseline["latencies"].get(k, [])]
    write_errors = sum(mixed["errors"].get(k, 0) for k in WRITES)
    console.print(
        f"{label}: writes in the mix: p50 {statistics.median(writes):.0f} ms, "
        f"p99 {percentile(writes, 99):.0f} ms, errors {write_errors} "
        f"(all kinds: {sum(mixed['errors'].values())}); writers alone: "
        f"p50 {statistics.median(alone):.0f} ms, p99 {percentile(alone, 99):.0f} ms; "
        f"mix p99 / alone p99 = {percentile(writes, 99) / percentile(alone, 99):.2f}"
    )


async def _pg_admin(url: str, sql: str) -> None:
    server = make_url(url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--workers", type=int, action="append", help="worker counts (default 1)")
    parser.add_argument("--pg-url", default="", help="Also on a temporary PostgreSQL database.")
    parser.add_argument("--database-url", default="", help="Also on this (empty) database.")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--writes-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(asyncio.run(drive(args))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite:
            sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'mixed.db'}"
            bench("SQLite", sqlite_url, Path(tmp) / "sqlite", args)
        if args.database_url:
            bench("PostgreSQL", args.database_url, Path(tmp) / "given", args)
        if not args.pg_url:
            return
        name = f"omnicart_mixed_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin(args.pg_url, f'CREATE DATABASE "{name}"'))
        url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            bench("PostgreSQL", url, Path(tmp) / "pg", args)
        finally:
            asyncio.run(_pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
