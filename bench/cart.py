"""Benchmark cart mutations and live updates against a plain Starlette endpoint (same write).

Every server is a real uvicorn process on loopback:

* **plain**: a bare Starlette JSON endpoint (``POST /add``) that runs the cart write alone —
  ``UPDATE carts SET version = version + 1 … RETURNING version`` and an upsert of the line,
  in one transaction through the same ``Database`` layer (BEGIN IMMEDIATE on SQLite);
* **omnicart, in-process broker**: ``omnicart.app:app_from_env``, one process;
* **omnicart, Redis broker**: two processes sharing the database and Redis; mutations go to
  the first, the subscriber listens on the second.

Throughput: ``--clients`` concurrent HTTP clients, each on its own cart, send ``cartLinesAdd``
(or ``POST /add``) for ``--seconds``; mutations per second and the ratio to plain are shown.
Event delay: one graphql-transport-ws subscriber on a cart, another connection sends a
mutation, and the time until the subscriber holds the new version is measured (``--events``
samples, p50/p99), next to the plain endpoint's write round trip as the baseline.

Run: ``.venv/bin/python bench/cart.py [--database-url postgresql+asyncpg://…]
[--redis-url redis://127.0.0.1:6379/0] [--seconds 8] [--clients 8] [--events 200]``.
SQLite in a temporary directory is the default database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import answers, percentile, running  # noqa: E402
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


@dataclass
class Figures:
    """What one setup measured."""

    name: str
    per_second: float = 0.0
    write_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)


# --- the baseline server ---------------------------------------------------------------


def baseline_app(url: str):  # type: ignore[no-untyped-def]
    """Return the plain Starlette app: one cart write per request, nothing else."""
    from sqlalchemy import text
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    db = Database(url)
    bump = text(
        "UPDATE carts SET version = version + 1, updated_at = :now WHERE id = :id RETURNING version"
    )
    upsert = text(
        "INSERT INTO cart_lines (cart_id, product_id, quantity, created_at) "
        "VALUES (:id, :product, 1, :now) ON CONFLICT (cart_id, product_id) "
        "DO UPDATE SET quantity = cart_lines.quantity + 1"
    )

    async def add(request: Request) -> JSONResponse:
        from server.models import utcnow

        body = await request.json()
        now = utcnow()
        async with db.transaction() as session:
            version = (
                await session.execute(bump, {"id": body["cart_id"], "now": now})
            ).scalar_one()
            await session.execute(
                upsert, {"id": body["cart_id"], "product": body["product_id"], "now": now}
            )
        return JSONResponse({"version": version})

    return Starlette(routes=[Route("/add", add, methods=["POST"])])


# --- processes ---------------------------------------------------------------------------


@contextmanager
def uvicorn_process(args: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run a uvicorn-serving command on an inherited loopback socket; yield its base URL."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn's --fd takes the socket for a Unix one and never sets TCP_NODELAY; accepted
        # connections inherit it from the listener, which spares every response Nagle's delay.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        fd = sock.fileno()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        command = [a.replace("{fd}", str(fd)) for a in args]
        env = {"PYTHONPATH": str(ROOT), **env}
        with running(command, env, lambda: answers(url + "/"), pass_fds=(fd,)):
            yield url


def omnicart_server(env: dict[str, str]) -> list[str]:
    """Return the command line of one omnicart worker."""
    return [
        sys.executable, "-m", "uvicorn", "omnicart.app:app_from_env", "--factory", "--fd", "{fd}",
        "--ws", "websockets-sansio", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def baseline_server() -> list[str]:
    """Return the command line of the plain endpoint's process."""
    return [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", "--fd", "{fd}"]


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


async def omnicart_throughput(url: str, clients: int, seconds: float) -> float:
    """Return cartLinesAdd per second with ``clients`` concurrent clients on their own carts."""
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        carts = [await new_cart(client) for _ in range(clients)]
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(cart_id: str, reach: dict[str, str]) -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await graphql_add(client, cart_id, reach)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(c, r) for c, r in carts))
        return done / (time.perf_counter() - started)


async def baseline_throughput(
    url: str, cart_ids: list[int], product_id: int, seconds: float
) -> float:
    """Return plain writes per second with one client per cart."""
    limits = httpx.Limits(max_connections=len(cart_ids))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(cart_id: int) -> None:
            nonlocal done
            while time.perf_counter() < stop:
                response = await client.post(
                    "/add", json={"cart_id": cart_id, "product_id": product_id}
                )
                response.raise_for_status()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in cart_ids))
        return done / (time.perf_counter() - started)


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


async def prepare(url: str, carts: int) -> tuple[list[int], int]:
    """Migrate, add the benchmark product and ``carts`` carts for the plain endpoint."""
    from server.carts import create_cart
    from server.migrations import upgrade_to_head
    from server.models import Price, Product, ProductBarcode, utcnow
    from server.viewer import Viewer

    db = Database(url)
    try:
        await upgrade_to_head(db)
        async with db.transaction() as session:
            product = Product(sku=f"BENCH-{uuid.uuid4().hex[:8]}", name="Bench", categories=[],
                              attributes={})  # fmt: skip
            session.add(product)
            await session.flush()
            session.add(ProductBarcode(product_id=product.id, gtin="0" + GTIN, is_primary=True))
            session.add(Price(product_id=product.id, currency="NOK", amount=1990))
            ids = []
            for _ in range(carts + 1):
                created, _ = await create_cart(session, Viewer(), utcnow())
                ids.append(created.cart.id)
            return ids, product.id
    finally:
        await db.dispose()


def redis_reachable(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return False
    return True


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="omnicart-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    cart_ids, product_id = await prepare(url, args.clients)
    env = {
        "OMNICART_DATABASE_URL": url,
        "OMNICART_DATA_DIR": str(workdir),
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_MAX_LINE_QUANTITY": "1000000",
        "OMNICART_INDEX_ON_START": "false",
        "OMNICART_LOG_LEVEL": "WARNING",
        "BENCH_DATABASE_URL": url,
    }
    results: list[Figures] = []

    console.print(f"database: {url.split('://')[0]}; {args.clients} clients, {args.seconds}s each")
    plain = Figures("plain Starlette write")
    with uvicorn_process(baseline_server(), env) as base:
        plain.per_second = await baseline_throughput(base, cart_ids[:-1], product_id, args.seconds)
        plain.write_ms = await baseline_latency(base, cart_ids[-1], product_id, args.events)
    results.append(plain)
    console.print(f"  plain: {plain.per_second:.0f}/s")

    local = Figures("omnicart, in-process broker")
    with uvicorn_process(omnicart_server(env), env) as one:
        local.per_second = await omnicart_throughput(one, args.clients, args.seconds)
        local.write_ms, local.event_ms = await event_delays(one, one, args.events)
    results.append(local)
    console.print(f"  in-process: {local.per_second:.0f}/s")

    if redis_reachable(args.redis_url):
        shared = Figures("omnicart, Redis broker, 2 processes")
        redis_env = {**env, "OMNICART_BROKER_URL": args.redis_url}
        with ExitStack() as stack:
            first = stack.enter_context(uvicorn_process(omnicart_server(redis_env), redis_env))
            second = stack.enter_context(uvicorn_process(omnicart_server(redis_env), redis_env))
            shared.per_second = await omnicart_throughput(first, args.clients, args.seconds)
            shared.write_ms, shared.event_ms = await event_delays(first, second, args.events)
        results.append(shared)
        console.print(f"  redis: {shared.per_second:.0f}/s")
    else:
        console.print(f"[yellow]Redis at {args.redis_url} is unreachable; skipping it.[/yellow]")

    table = Table(title="Cart mutations and live updates (uvicorn on loopback)")
    for column in ("setup", "writes/s", "× plain", "write p50 ms", "event p50 ms",
                   "event p99 ms", "event p50 ÷ plain write p50"):  # fmt: skip
        table.add_column(column, justify="left" if column == "setup" else "right")
    base_p50 = statistics.median(plain.write_ms)
    for figures in results:
        events = figures.event_ms
        table.add_row(
            figures.name,
            f"{figures.per_second:.0f}",
            f"{figures.per_second / plain.per_second:.2f}",
            f"{statistics.median(figures.write_ms):.2f}",
            f"{statistics.median(events):.2f}" if events else "—",
            f"{percentile(events, 99):.2f}" if events else "—",
            f"{statistics.median(events) / base_p50:.2f}" if events else "—",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=os.environ.get("OMNICART_BENCH_DATABASE_URL"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        import uvicorn

        app = baseline_app(os.environ["BENCH_DATABASE_URL"])
        uvicorn.run(app, fd=args.fd, log_level="warning", access_log=False)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
