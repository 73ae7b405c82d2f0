"""Benchmark cart mutations and live updates against a plain Starlette endpoint (same write).

Every server is a real uvicorn process on loopback, and the writes come from wrk
(``bench/writes.lua``) in a process of its own:

* **plain**: ``bench/plain_writes.py``'s bare Starlette JSON endpoint (``POST /add``), one
  process, that runs the cart write alone — ``UPDATE carts SET version = version + 1 …
  RETURNING version`` and an upsert of the line, in one transaction through the same
  ``Database`` layer (BEGIN IMMEDIATE on SQLite);
* **omnicart**: ``omnicart.app:app_from_env`` with each ``--workers`` count (1 and 2 by
  default, as ``omnicart serve --workers N`` runs them: live events through the database
  between workers, or through ``--broker-url``), pinned with taskset to other CPUs than wrk
  when there are enough.

Throughput: ``--clients`` wrk connections send ``cartLinesAdd`` (or ``POST /add``) for
``--seconds`` per setup, each request with its own prepared cart id and token, taken in
turn from ``--carts`` carts (many more than connections, so two writes in flight almost
never share a cart). The plain write and each omnicart setup take ``--rounds`` turns
(plain, omnicart, plain, …), so both meet the same phases of the machine; each omnicart row
is compared with the plain runs taken beside it. Writes per second, wrk's p50 (the median
of the turns') and p99 (the highest), errors, the server processes' CPU milliseconds per
write (from /proc) and the ratio to plain are shown.
Event delay: one graphql-transport-ws subscriber on a cart, another connection sends a
mutation, and the time until the subscriber holds the new version is measured (``--events``
samples, p50/p99), next to the plain endpoint's write round trip (one client) as the baseline.

Run: ``.venv/bin/python bench/cart.py [--database-url postgresql+asyncpg://…]
[--workers 1 --workers 2] [--broker-url redis://127.0.0.1:6379/0] [--seconds 8]
[--rounds 4] [--clients 8] [--carts 256] [--events 200] [--no-pin]``.
SQLite in a temporary directory is the default database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import (  # noqa: E402
    Drive,
    Measured,
    Prepared,
    Server,
    combined,
    percentile,
    pinning,
    print_measured,
    served,
    write_requests,
    wrk_writes,
)
from server.db import Database  # noqa: E402

ADD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) { cart { version } errors { code } }
}
"""
CREATE = "mutation { cartCreate { cart { id } cartToken errors { code } } }"
UPDATED = "subscription($id: ID!) { cartUpdated(cartId: $id) { version } }"
GTIN = "7031234500007"
console = Console(width=130)
OK = {"plain Starlette write": '"version"', "cartLinesAdd": '"errors":[]'}


@dataclass
class Figures:
    """What one setup measured."""

    name: str
    per_second: float = 0.0
    write_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)


# --- load --------------------------------------------------------------------------------


async def new_cart(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    body = (await client.post("/graphql", json={"query": CREATE})).json()
    payload = body["data"]["cartCreate"]
    return payload["cart"]["id"], {"X-Cart-Token": payload["cartToken"]}


async def graphql_add(client: httpx.AsyncClient, cart_id: str, reach: dict[str, str]) -> int:
    variables = {"input": {"cartId": cart_id, "lines": [{"gtin": GTIN, "quantity": 1}]}}
    response = await client.post(
        "/graphql", json={"query": ADD, "variables": variables}, headers=reach
    )
    payload = response.json()["data"]["cartLinesAdd"]
    if payload["errors"]:
        raise RuntimeError(payload["errors"])
    return int(payload["cart"]["version"])


async def baseline_latency(url: str, cart_id: int, product_id: int, samples: int) -> list[float]:
    """Return the plain endpoint's write round trips in milliseconds."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            response = await client.post(
                "/add", json={"cart_id": cart_id, "product_id": product_id}
            )
            response.raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
        return timings


async def event_delays(
    mutate_url: str, listen_url: str, samples: int
) -> tuple[list[float], list[float]]:
    """Return (mutation round trips, mutation-to-event delays) in milliseconds.

    One client writes to the cart (the only writer, so each write makes the next version);
    the subscriber's clock stops when it holds that version.
    """
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async with httpx.AsyncClient(base_url=mutate_url, timeout=30) as client:
        cart_id, reach = await new_cart(client)
        ws_url = listen_url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            init = {"type": "connection_init", "payload": {"cartToken": reach["X-Cart-Token"]}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"query": UPDATED, "variables": {"id": cart_id}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))  # the cart as it is now
            version = first["payload"]["data"]["cartUpdated"]["version"]
            writes, delays = [], []

            async def timed_write() -> float:
                await graphql_add(client, cart_id, reach)
                return time.perf_counter()

            for _ in range(samples):
                version += 1
                started = time.perf_counter()
                written = asyncio.create_task(timed_write())
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message.get("type") != "next":
                        continue
                    if message["payload"]["data"]["cartUpdated"]["version"] >= version:
                        break
                arrived = time.perf_counter()
                writes.append((await written - started) * 1000)
                delays.append((arrived - started) * 1000)
    return writes, delays


# --- set-up ------------------------------------------------------------------------------


async def prepare(url: str, carts: int) -> tuple[list[tuple[int, str]], int]:
    """Migrate, add the benchmark product and ``carts`` guest carts; return (id, token)s."""
    from sqlalchemy import insert, select

    from server.migrations import upgrade_to_head
    from server.models import Cart, Price, Product, ProductBarcode, utcnow
    from server.states import CartStatus
    from server.tokens import CART_PREFIX, new_token, token_hash

    db = Database(url)
    now = utcnow()
    tokens = [new_token(CART_PREFIX) for _ in range(carts)]
    rows = [
        {"token_hash": token_hash(t), "status": CartStatus.ACTIVE, "version": 1,
         "created_at": now, "updated_at": now}
        for t in tokens
    ]  # fmt: skip
    try:
        await upgrade_to_head(db)
        async with db.transaction() as session:
            # A database an earlier run used has the product already: carts are new each run.
            product_id = await session.scalar(
                select(ProductBarcode.product_id).where(ProductBarcode.gtin == "0" + GTIN)
            )
            if product_id is None:
                product = Product(sku=f"BENCH-{uuid.uuid4().hex[:8]}", name="Bench",
                                  categories=[], attributes={})  # fmt: skip
                session.add(product)
                await session.flush()
                product_id = product.id
                session.add(ProductBarcode(product_id=product_id, gtin="0" + GTIN, is_primary=True))
                session.add(Price(product_id=product_id, currency="NOK", amount=1990))
            returning = insert(Cart).returning(Cart.id, sort_by_parameter_order=True)
            ids = (await session.execute(returning, rows)).scalars().all()
            return list(zip(ids, tokens, strict=True)), product_id
    finally:
        await db.dispose()


def write_files(
    directory: Path, carts: list[tuple[int, str]], product_id: int
) -> tuple[Path, Path]:
    """Write wrk's requests: the plain endpoint's adds and the GraphQL adds, one per cart."""
    from schema.ids import encode_id

    plain = [Prepared("/add", {"cart_id": i, "product_id": product_id}) for i, _ in carts]
    graphql = [
        Prepared(
            "/graphql",
            {
                "query": ADD,
                "variables": {
                    "input": {
                        "cartId": encode_id("Cart", i),
                        "lines": [{"gtin": GTIN, "quantity": 1}],
                    }
                },
            },
            token,
        )
        for i, token in carts
    ]
    return (
        write_requests(directory / "plain.txt", plain),
        write_requests(directory / "graphql.txt", graphql),
    )


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="omnicart-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    carts, product_id = await prepare(url, args.carts + 1)
    plain_file, graphql_file = write_files(workdir, carts[:-1], product_id)
    env = {
        "OMNICART_DATABASE_URL": url,
        "OMNICART_DATA_DIR": str(workdir),
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_MAX_LINE_QUANTITY": "1000000",
        "OMNICART_INDEX_ON_START": "false",
        "OMNICART_LOG_LEVEL": "WARNING",
        "BENCH_DATABASE_URL": url,
    }
    if args.broker_url:
        env["OMNICART_BROKER_URL"] = args.broker_url
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    console.print(f"database: {database}; {args.clients} clients, {args.seconds}s each")
    rows: list[tuple[str, int, Measured, Measured]] = []
    events: list[Figures] = []
    plain_cpus, plain_load, plain_pinned = pinning(1, pin=args.pin)
    with served("bench.plain_writes:create_plain_app", env, cpus=plain_cpus) as plain_server:
        base = Figures("plain Starlette write")
        base.write_ms = await baseline_latency(
            plain_server.base, carts[-1][0], product_id, args.events
        )
        events.append(base)
        plain = Setup("plain Starlette write", plain_server, plain_file, plain_load)
        for workers in args.workers or [1, 2]:
            server_cpus, load_cpus, pinned = pinning(workers, pin=args.pin)
            name = f"omnicart, {workers} worker(s)"
            with served("omnicart.app:app_from_env", env, workers=workers, cpus=server_cpus) as one:
                app = Setup("cartLinesAdd", one, graphql_file, load_cpus)
                baseline, measured = alternated(plain, app, args)
                figures = Figures(name)
                figures.write_ms, figures.event_ms = await event_delays(
                    one.base, one.base, args.events
                )
            rows += [
                (database, workers, baseline, baseline),
                (database, workers, measured, baseline),
            ]
            events.append(figures)
            console.print(
                f"  {name} ({pinned}; plain: {plain_pinned}): {measured.rps:.0f}/s, "
                f"{measured.cpu_ms:.2f} CPU ms; plain beside it {baseline.rps:.0f}/s"
            )
    print_measured(f"Cart writes, wrk, {args.clients} connections, {args.carts} carts", rows)
    print_events(events)


@dataclass(frozen=True)
class Setup:
    """One server under measure: the name of its runs, the server, its requests, wrk's CPUs."""

    name: str
    server: Server
    requests: Path
    cpus: str | None


def alternated(plain: Setup, app: Setup, args: argparse.Namespace) -> tuple[Measured, Measured]:
    """Measure the plain write and the app in turns, ``args.rounds`` runs each of
    ``args.seconds / args.rounds``; return each one's runs combined.

    Taking turns puts both under the same phases of a shared machine, whose speed drifts by
    up to 2x over minutes; measured one after the other, the ratio drifted with it. Both
    servers stay up: the idle one uses about 1 % of a core (its background tasks).
    """

    def one_run(setup: Setup, seconds: float) -> Measured:
        drive = Drive(args.clients, seconds, setup.cpus)
        return wrk_writes(setup.name, setup.server, setup.requests, mode="cycle",
                          ok=OK[setup.name], drive=drive)  # fmt: skip

    for setup in (plain, app):
        one_run(setup, 1)  # warm-up, unmeasured
    runs: dict[str, list[Measured]] = {plain.name: [], app.name: []}
    for _ in range(args.rounds):
        for setup in (plain, app):
            runs[setup.name].append(one_run(setup, max(1.0, args.seconds / args.rounds)))
    return combined(plain.name, runs[plain.name]), combined(app.name, runs[app.name])


def print_events(results: list[Figures]) -> None:
    """Print the event delays of each set-up next to the plain write's round trip."""
    table = Table(title="Live updates: one writer, one subscriber (uvicorn on loopback)")
    for column in ("setup", "write p50 ms", "event p50 ms", "event p99 ms",
                   "event p50 ÷ plain write p50"):  # fmt: skip
        table.add_column(column, justify="left" if column == "setup" else "right")
    base_p50 = statistics.median(results[0].write_ms)
    for figures in results:
        events = figures.event_ms
        table.add_row(
            figures.name,
            f"{statistics.median(figures.write_ms):.2f}",
            f"{statistics.median(events):.2f}" if events else "—",
            f"{percentile(events, 99):.2f}" if events else "—",
            f"{statistics.median(events) / base_p50:.2f}" if events else "—",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=os.environ.get("OMNICART_BENCH_DATABASE_URL"))
    parser.add_argument(
        "--workers", type=int, action="append", help="omnicart worker counts (1 and 2)"
    )
    parser.add_argument(
        "--broker-url", default="", help="live events between workers (default: the database)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured per setup")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns the plain write and the app take"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--carts", type=int, default=256)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/cart.py needs wrk: apt-get install wrk")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
