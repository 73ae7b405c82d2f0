"""Checkouts per second under contention: GraphQL ``checkout`` against the bare reservation SQL.

For each database (a fresh SQLite file, and a temporary PostgreSQL database when a server
is given) the same work is measured twice:

* **GraphQL checkout**: a real uvicorn process (``omnicart.app:app_from_env``); ``--carts``
  prepared guest carts, each holding 1–2 lines of ``--hot`` hot products, are checked out
  (click and collect at one store) by ``--concurrency`` clients at once. Every checkout
  locks its cart, reserves its lines with the conditional UPDATE on the same few stock
  rows, and writes the order, its lines, reservations, history and outbox rows.
* **plain SQL loop** (the baseline): in-process, the same number of transactions with the
  same concurrency, each running only the reservation statements of one cart —
  ``UPDATE stock_levels SET reserved = reserved + :q WHERE … AND on_hand - reserved >= :q``
  per line in product order — through the same ``Database`` (BEGIN IMMEDIATE on SQLite).

The table shows checkouts (transactions) per second, latency p50/p99, and the ratio of
each run to the baseline; afterwards the stock rows are checked: reserved equals the held
reservation rows and never exceeds on hand.

    .venv/bin/python bench/checkout.py [--carts 1500] [--concurrency 32] [--hot 3]
        [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test | --pg-url '']
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import typer
from stdnum import ean
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Figures, console, print_figures, uvicorn_server  # noqa: E402
from server.db import Database  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.models import (  # noqa: E402
    Cart,
    CartLine,
    Order,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    StockReservation,
    Store,
    utcnow,
)
from server.states import CartStatus, ReservationStatus  # noqa: E402
from server.tokens import CART_PREFIX, new_token, token_hash  # noqa: E402

CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { order { number } errors { code } }
}
"""
RESERVE = text(
    "UPDATE stock_levels SET reserved = reserved + :q "
    "WHERE location_id = :l AND product_id = :p AND on_hand - reserved >= :q"
)


@dataclass(frozen=True)
class Shop:
    """What was seeded: the store, its location, and the prepared carts."""

    store_gid: str
    location_id: int
    # (cart id, token, version, [(product id, quantity)] in product order)
    carts: list[tuple[int, str, int, list[tuple[int, int]]]]


async def seed(db: Database, *, carts: int, hot: int) -> Shop:
    """Migrate, create one store with ``hot`` products in plenty, and ``carts`` guest carts."""
    from schema.ids import encode_id

    await upgrade_to_head(db)
    rng = random.Random(11)
    now = utcnow()
    async with db.transaction() as session:
        store = Store(code="BENCH", name="Bench store")
        session.add(store)
        await session.flush()
        location = StockLocation(code="LOC-BENCH", store_id=store.id, online=False)
        session.add(location)
        await session.flush()
        product_ids = []
        for i in range(hot):
            product = Product(sku=f"HOT-{i}", name=f"Hot product {i}", categories=[], attributes={})
            session.add(product)
            await session.flush()
            body = f"{703000000000 + i:012d}"
            gtin = "0" + body + ean.calc_check_digit(body)
            session.add(ProductBarcode(product_id=product.id, gtin=gtin, is_primary=True))
            session.add(Price(product_id=product.id, currency="NOK", amount=1990 + i))
            # Enough for every checkout and the baseline: contention, not scarcity.
            session.add(
                StockLevel(location_id=location.id, product_id=product.id, on_hand=carts * 8)
            )
            product_ids.append(product.id)
        await session.flush()
        prepared = []
        tokens = [new_token(CART_PREFIX) for _ in range(carts)]
        ids = (
            (
                await session.execute(
                    insert(Cart).returning(Cart.id, sort_by_parameter_order=True),
                    [
                        {
                            "token_hash": token_hash(t),
                            "status": CartStatus.ACTIVE,
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for t in tokens
                    ],
                )
            )
            .scalars()
            .all()
        )
        lines = []
        for cart_id, token in zip(ids, tokens, strict=True):
            chosen = sorted(rng.sample(product_ids, rng.randint(1, min(2, hot))))
            wanted = [(pid, rng.randint(1, 3)) for pid in chosen]
            lines.extend(
                {"cart_id": cart_id, "product_id": pid, "quantity": q, "created_at": now}
                for pid, q in wanted
            )
            prepared.append((cart_id, token, 1, wanted))
        await session.execute(insert(CartLine), lines)
    return Shop(encode_id("Store", store.id), location.id, prepared)


async def run_pool(
    name: str, count: int, concurrency: int, one: Callable[[int], Awaitable[bool]]
) -> Figures:
    """Run ``one(i)`` for i in 0..count-1 with ``concurrency`` in flight; time each."""
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < count:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            ok = await one(i)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(name, count, time.perf_counter() - started, latencies, errors)


async def graphql_run(base_url: str, shop: Shop, concurrency: int) -> Figures:
    """Check every prepared cart out through GraphQL on the running server."""
    from schema.ids import encode_id

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one(i: int) -> bool:
            cart_id, token, version, _ = shop.carts[i]
            variables = {
                "input": {
                    "cartId": encode_id("Cart", cart_id),
                    "expectedVersion": version,
                    "fulfilment": {"clickAndCollect": {"storeId": shop.store_gid}},
                }
            }
            response = await client.post(
                "/graphql",
                json={"query": CHECKOUT, "variables": variables},
                headers={"X-Cart-Token": token},
            )
            body = response.json()
            return response.status_code == 200 and not body["data"]["checkout"]["errors"]

        # Warm the server up (connections, caches) on a few carts not measured.
        warm = min(20, len(shop.carts) // 10)
        await asyncio.gather(*(one(i) for i in range(warm)))
        rest = shop.carts[warm:]
        offset = warm

        async def measured(i: int) -> bool:
            return await one(offset + i)

        return await run_pool("GraphQL checkout (uvicorn)", len(rest), concurrency, measured)


async def plain_run(db: Database, shop: Shop, concurrency: int) -> Figures:
    """Run the reservation statements of each cart in a transaction, nothing else."""

    async def one(i: int) -> bool:
        _, _, _, wanted = shop.carts[i]
        async with db.transaction(write=True) as session:
            for pid, quantity in wanted:
                result = await session.execute(
                    RESERVE, {"q": quantity, "l": shop.location_id, "p": pid}
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return False
        return True

    return await run_pool("plain SQL reservation loop", len(shop.carts), concurrency, one)


async def check_stock(db: Database, location_id: int, plain_units: dict[int, int]) -> str:
    """Return a one-line verdict: reserved == held rows (+ the baseline's units) <= on hand."""
    async with db.transaction(write=False) as session:
        levels = (
            await session.execute(
                select(StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.location_id == location_id
                )
            )
        ).all()
        held = dict(
            (
                await session.execute(
                    select(StockReservation.product_id, func.sum(StockReservation.quantity))
                    .where(StockReservation.status == ReservationStatus.HELD)
                    .group_by(StockReservation.product_id)
                )
            ).all()
        )
        orders = await session.scalar(select(func.count()).select_from(Order))
    ok = all(
        reserved == int(held.get(pid, 0)) + plain_units.get(pid, 0) and reserved <= on_hand
        for pid, on_hand, reserved in levels
    )
    return f"{orders} orders; stock rows {'consistent' if ok else 'INCONSISTENT'}"


def units_of(carts: Sequence[tuple[int, str, int, list[tuple[int, int]]]]) -> dict[int, int]:
    """Return the units per product the given carts reserve."""
    units: dict[int, int] = {}
    for _, _, _, wanted in carts:
        for pid, quantity in wanted:
            units[pid] = units.get(pid, 0) + quantity
    return units


async def bench_database(
    label: str, url: str, data_dir: Path, *, carts: int, concurrency: int, hot: int
) -> None:
    """Seed one database, run both measurements, print the table and the stock verdict."""
    db = Database(url)
    try:
        console.print(f"[bold]{label}[/bold]: seeding {carts} carts over {hot} hot products…")
        shop = await seed(db, carts=carts, hot=hot)
        plain = await plain_run(db, shop, concurrency)
        env = {
            "OMNICART_DATABASE_URL": url,
            "OMNICART_DATA_DIR": str(data_dir),
            "OMNICART_INDEX_ON_START": "false",
            "OMNICART_LOG_LEVEL": "WARNING",
            "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        }
        with uvicorn_server("omnicart.app:app_from_env", env) as base_url:
            checkout = await graphql_run(base_url, shop, concurrency)
        verdict = await check_stock(db, shop.location_id, units_of(shop.carts))
    finally:
        await db.dispose()
    print_figures(
        f"Checkouts on {label}: {hot} hot products, {concurrency} in flight",
        [checkout, plain],
        plain,
    )
    console.print(
        f"{label}: GraphQL checkouts/s {checkout.rps:,.0f} vs plain reservation transactions/s "
        f"{plain.rps:,.0f} → ratio {checkout.rps / plain.rps:.2f}; {verdict}."
    )


async def _pg_admin(url: str, sql: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main(
    carts: int = typer.Option(1500, help="Carts checked out per run."),
    concurrency: int = typer.Option(32, help="Checkouts in flight."),
    hot: int = typer.Option(3, help="Hot products every cart draws from."),
    pg_url: str = typer.Option(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="A PostgreSQL server to create a temporary database on; '' skips PostgreSQL.",
    ),
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(
            bench_database(
                "SQLite", sqlite_url, Path(tmp), carts=carts, concurrency=concurrency, hot=hot
            )
        )
        if not pg_url:
            return
        name = f"omnicart_bench_{uuid.uuid4().hex[:10]}"
        try:
            asyncio.run(_pg_admin(pg_url, f'CREATE DATABASE "{name}"'))
        except (OSError, asyncpg.PostgresError) as exc:
            console.print(f"[yellow]PostgreSQL skipped:[/yellow] {exc}")
            return
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            asyncio.run(
                bench_database(
                    "PostgreSQL", url, Path(tmp), carts=carts, concurrency=concurrency, hot=hot
                )
            )
        finally:
            asyncio.run(_pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    typer.run(main)
