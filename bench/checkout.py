"""Checkouts per second under contention: GraphQL ``checkout`` against the bare reservation SQL.

For each database (a fresh SQLite file, and a temporary PostgreSQL database when a server
is given) and each ``--workers`` count (1 and 2 by default, as ``omnicart serve --workers N``
runs them; pinned with taskset to other CPUs than the load when there are enough), two
servers are measured in turn, both driven by wrk (``bench/writes.lua``) from a process of
its own, over the same number of prepared carts and the same connections:

* **plain reservation** (the baseline): ``bench/plain_writes.py``'s ``POST /reserve`` under
  uvicorn with the same workers, running only the reservation statements of one cart —
  ``UPDATE stock_levels SET reserved = reserved + :q WHERE … AND on_hand - reserved >= :q``
  per line in product order — in one transaction through the same ``Database``;
* **GraphQL checkout**: the real app (``omnicart.app:app_from_env``); ``--carts`` prepared
  guest carts, each holding 1–2 lines of ``--hot`` hot products, are checked out (click and
  collect at one store) with ``--concurrency`` in flight, each request with its own cart id
  and token. Every checkout locks its cart, reserves its lines with the conditional UPDATE
  on the same few stock rows, and writes the order, its lines, reservations, history and
  outbox rows.

The products' read-model pages are built before measuring (``omnicart reindex``'s
``reindex_all``), as a shop's products always have them; the server then runs its indexer,
following changes (``--no-index-on-start`` turns it off). A few carts per run warm the
server up, unmeasured. The table shows checkouts (transactions) per second, wrk's latency
p50/p99, errors, the server processes' CPU milliseconds per checkout (from /proc, so busy-machine
runs stay comparable) and the ratio to the baseline; afterwards the stock rows are
checked: reserved equals the held reservation rows (+ the baseline's units) and never
exceeds on hand.

    .venv/bin/python bench/checkout.py [--carts 1500] [--concurrency 32] [--hot 3]
        [--workers 1 --workers 2] [--no-index-on-start] [--no-pin]
        [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test | --pg-url '']
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from stdnum import ean

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import (  # noqa: E402
    Drive,
    Measured,
    Prepared,
    console,
    pinning,
    print_measured,
    served,
    write_requests,
    wrk_writes,
)
from server.config import Settings  # noqa: E402
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


async def index_pages(url: str, data_dir: Path) -> int:
    """Build the search index and the products' read-model pages, as ``omnicart reindex``."""
    from search import create_engine
    from server.indexing import reindex_all

    settings = Settings(data_dir=data_dir, database_url=url)
    db = Database.from_settings(settings)
    engine = create_engine(settings.search_url, settings.data_dir, None)
    try:
        return await reindex_all(db, engine, settings.currency)
    finally:
        await engine.close()
        await db.dispose()


Carts = Sequence[tuple[int, str, int, list[tuple[int, int]]]]


def checkout_requests(shop: Shop, carts: Carts) -> list[Prepared]:
    """The ``checkout`` of each cart, with its own id, version and token."""
    from schema.ids import encode_id

    return [
        Prepared(
            "/graphql",
            {
                "query": CHECKOUT,
                "variables": {
                    "input": {
                        "cartId": encode_id("Cart", cart_id),
                        "expectedVersion": version,
                        "fulfilment": {"clickAndCollect": {"storeId": shop.store_gid}},
                    }
                },
            },
            token,
        )
        for cart_id, token, version, _ in carts
    ]


def reserve_requests(shop: Shop, carts: Carts) -> list[Prepared]:
    """The plain reservation of each cart's lines."""
    return [
        Prepared("/reserve", {"location": shop.location_id, "lines": wanted})
        for _, _, _, wanted in carts
    ]


@dataclass(frozen=True)
class Setup:
    """One database's set-up: its label, URL, data dir and the seeded shop."""

    label: str
    url: str
    data_dir: Path
    shop: Shop


def measure(setup: Setup, carts: Carts, workers: int, opts: Options) -> list[Measured]:
    """Run the baseline and then GraphQL checkouts over ``carts`` with ``workers``."""
    server_cpus, load_cpus, pinned = pinning(workers, pin=opts.pin)
    console.print(f"  {setup.label}, {workers} worker(s), {pinned}: {len(carts)} carts")
    warm = max(1, min(20, len(carts) // 10))
    drive = Drive(opts.concurrency, opts.max_seconds, load_cpus)
    warm_drive = Drive(min(opts.concurrency, warm), opts.max_seconds, load_cpus)
    files = setup.data_dir / f"wrk-{workers}"
    files.mkdir(exist_ok=True)
    runs = []
    plain_env = {"BENCH_DATABASE_URL": setup.url}
    app_env = {
        "OMNICART_DATABASE_URL": setup.url,
        "OMNICART_DATA_DIR": str(setup.data_dir),
        "OMNICART_INDEX_ON_START": str(opts.index_on_start).lower(),
        "OMNICART_LOG_LEVEL": "WARNING",
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
    }
    for name, target, env, build, ok in (
        ("plain reservation", "bench.plain_writes:create_plain_app", plain_env,
         reserve_requests, '"reserved"'),
        ("GraphQL checkout", "omnicart.app:app_from_env", app_env,
         checkout_requests, '"errors":[]'),
    ):  # fmt: skip
        warm_file = write_requests(files / f"{name}-warm", build(setup.shop, carts[:warm]))
        measured_file = write_requests(files / name, build(setup.shop, carts[warm:]))
        with served(target, env, workers=workers, cpus=server_cpus) as server:
            wrk_writes("warm-up", server, warm_file, mode="once", ok=ok, drive=warm_drive)
            runs.append(wrk_writes(name, server, measured_file, mode="once", ok=ok, drive=drive))
    return runs


@dataclass(frozen=True)
class Options:
    """The bench's options, as given."""

    carts: int
    concurrency: int
    hot: int
    workers: list[int]
    index_on_start: bool
    pin: bool
    max_seconds: float


def bench_database(label: str, url: str, data_dir: Path, opts: Options) -> None:
    """Seed and index one database, measure each worker count, print the table and verdict."""
    console.print(
        f"[bold]{label}[/bold]: seeding {opts.carts} carts per worker count over "
        f"{opts.hot} hot products, building their pages…"
    )
    data_dir.mkdir(parents=True, exist_ok=True)

    async def seeded() -> Shop:
        db = Database(url)
        try:
            return await seed(db, carts=opts.carts * len(opts.workers), hot=opts.hot)
        finally:
            await db.dispose()

    shop = asyncio.run(seeded())
    asyncio.run(index_pages(url, data_dir))
    setup = Setup(label, url, data_dir, shop)
    rows = []
    for n, workers in enumerate(opts.workers):
        carts = shop.carts[n * opts.carts : (n + 1) * opts.carts]
        plain, checkout = measure(setup, carts, workers, opts)
        rows += [(label, workers, run, plain) for run in (plain, checkout)]
        console.print(
            f"  {checkout.rps:,.0f} checkouts/s, p50 {checkout.p50_ms:.0f} ms, p99 "
            f"{checkout.p99_ms:.0f} ms, {checkout.errors} errors, {checkout.cpu_ms:.1f} CPU ms "
            f"each; plain {plain.rps:,.0f}/s → ratio {checkout.rps / plain.rps:.2f}"
        )

    async def verdict() -> str:
        db = Database(url)
        try:
            return await check_stock(db, shop.location_id, units_of(shop.carts))
        finally:
            await db.dispose()

    print_measured(
        f"Checkouts on {label}: {opts.hot} hot products, {opts.concurrency} in flight (wrk)", rows
    )
    console.print(f"{label}: {asyncio.run(verdict())}.")


async def _pg_admin(url: str, sql: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main(
    carts: Annotated[int, typer.Option(help="Carts checked out per run.")] = 1500,
    concurrency: Annotated[int, typer.Option(help="Checkouts in flight (wrk connections).")] = 32,
    hot: Annotated[int, typer.Option(help="Hot products every cart draws from.")] = 3,
    workers: Annotated[
        list[int] | None,
        typer.Option(help="Worker counts to serve with (repeatable; default 1 and 2)."),
    ] = None,
    index_on_start: Annotated[
        bool, typer.Option(help="Run the server's indexer, following changes (pages are built).")
    ] = True,
    pin: Annotated[bool, typer.Option(help="Pin server and wrk to CPUs of their own.")] = True,
    max_seconds: Annotated[float, typer.Option(help="The longest one run may take.")] = 300,
    pg_url: Annotated[
        str,
        typer.Option(
            help="A PostgreSQL server to create a temporary database on; '' skips PostgreSQL."
        ),
    ] = "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/checkout.py needs wrk: apt-get install wrk")
    opts = Options(carts, concurrency, hot, workers or [1, 2], index_on_start, pin, max_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        bench_database("SQLite", sqlite_url, Path(tmp) / "sqlite", opts)
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
            bench_database("PostgreSQL", url, Path(tmp) / "pg", opts)
        finally:
            asyncio.run(_pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    typer.run(main)
