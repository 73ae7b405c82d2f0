"""A Saturday mix: 50 clients looking up, searching, changing carts and checking out at once.

A real uvicorn server (``omnicart.app:app_from_env``, with each ``--workers`` count, as
``omnicart serve --workers N`` runs it; pinned with taskset to other CPUs than wrk when there
are enough, unless ``--no-pin``) over a fresh database (SQLite in a temporary directory; then
PostgreSQL: a temporary database with ``--pg-url``, or the given, empty, database with
``--database-url``) seeded with ``--products`` products in plenty at one store, indexed
(search index and read-model pages) before the load starts.

The load comes from wrk (``bench/writes.lua``), one process per kind running at the same
time, so each kind's latencies stay its own; ``--clients`` connections in all, split by the
kinds' shares: product lookups (``product(gtin:)``, 50 %) and searches (20 %) going round
prepared documents, cart changes (``cartLinesAdd``, 25 %) going round prepared guest carts
(two lines each, so two writes in flight seldom share a cart) and checkouts (5 %; click and
collect) of prepared carts of 1–5 lines, each cart checked out once. All of them run for
``--seconds`` (default 60), after an unmeasured second of lookups, searches and cart changes.

The baseline, measured in the same run on the same server first: the writers alone (the
mix's cart-change and checkout connections, no lookups or searches), for
``--baseline-seconds``. In the mix, the writers go as fast as they are answered; each reader
connection pauses before each request as long as a writer connection took per write alone
(``--reader-pause-ms`` sets it), so a reader connection asks at most as often as a writer
one did and the requests keep roughly the mix's shares. Unpaced (``--reader-pause-ms 0``),
a saturated server answers the quick reads so often that the writes all but starve.

The table shows, per run and kind, connections, requests, req/s, p50/p99 and errors, and per
run the server's CPU milliseconds per request (from /proc; the kinds share the server, so it
is not told apart per kind). A line per set-up gives the mix's write p50/p99 per kind next
to the writers alone, and checks the target for the 50-client mix: write p99 < 500 ms (the
larger of the two kinds' p99, which bounds the p99 of all writes), 0 errors.

    .venv/bin/python bench/mixed.py [--seconds 60] [--clients 50] [--baseline-seconds 10]
        [--workers 1 --workers 2] [--no-sqlite] [--no-pin] [--reader-pause-ms MS]
        [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
         | --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_mixed]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from rich.table import Table
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout import checkout_requests, index_pages  # noqa: E402
from bench.loadgen import (  # noqa: E402
    Load,
    Measured,
    Server,
    console,
    pinning,
    served,
    write_requests,
    wrk_together,
)
from bench.mixed_load import (  # noqa: E402
    OK,
    READS,
    SEARCH,
    WRITES,
    add_requests,
    connections_of,
    read_requests,
    seed,
)

# Carts prepared per checkout connection and second: a checkout took over 10 ms on this
# machine even alone, so a run does not run out (it says so if it does).
CHECKOUTS_PER_SECOND = 100
ADD_CARTS = 256


@dataclass(frozen=True)
class Run:
    """One measured run: its name, each kind's connections and figures, the server's CPU."""

    name: str
    connections: dict[str, int]
    kinds: dict[str, Measured]
    cpu_seconds: float

    @property
    def ms_per_request(self) -> float:
        """Milliseconds per request and connection: a writer connection's write alone."""
        requests = sum(m.requests for m in self.kinds.values())
        connections = sum(self.connections.values())
        seconds = max(m.seconds for m in self.kinds.values())
        return 1000 * seconds * connections / requests if requests else 1000 * seconds


def run_kinds(
    name: str,
    server: Server,
    files: dict[str, Path],
    connections: dict[str, int],
    seconds: float,
    cpus: str | None,
    reader_pause_ms: float = 0,
) -> Run:
    """Run one wrk process per kind in ``connections`` at once over its file, for ``seconds``;
    the readers' connections pause ``reader_pause_ms`` before each request."""
    loads = [
        Load(kind, files[kind], "once" if kind == "checkout" else "cycle", OK[kind], n,
             reader_pause_ms if kind in READS else 0)
        for kind, n in connections.items()
    ]  # fmt: skip
    measured, used = wrk_together(server, loads, seconds=seconds, cpus=cpus)
    return Run(name, connections, {m.name: m for m in measured}, used)


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


def bench(label: str, url: str, workdir: Path, args: argparse.Namespace) -> list[Run]:
    """Seed and index one database, run baseline and mix with each worker count and print
    them; return the runs (baseline, mix, per worker count)."""
    workdir.mkdir(parents=True, exist_ok=True)
    split = connections_of(args.clients)
    writers = {kind: split[kind] for kind in WRITES}
    worker_counts = args.workers or [1]
    per_run = [
        math.ceil(split["checkout"] * s * CHECKOUTS_PER_SECOND)
        for s in (args.baseline_seconds, args.seconds)
    ]
    console.print(
        f"[bold]{label}[/bold]: seeding {args.products} products, {ADD_CARTS} carts to change "
        f"and {sum(per_run) * len(worker_counts)} to check out, building the index and pages…"
    )
    seeded = asyncio.run(
        seed(url, args.products, add_carts=ADD_CARTS,
             checkout_carts=sum(per_run) * len(worker_counts))
    )  # fmt: skip
    asyncio.run(index_pages(url, workdir))
    env = {
        "OMNICART_DATABASE_URL": url,
        "OMNICART_DATA_DIR": str(workdir),
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_MAX_LINE_QUANTITY": "1000000",
        "OMNICART_LOG_LEVEL": "WARNING",
    }
    files = {
        kind: write_requests(workdir / f"{kind}.txt", requests)
        for kind, requests in read_requests(args.products).items()
    }
    files["cart"] = write_requests(workdir / "cart.txt", add_requests(seeded, args.products))
    carts = iter(seeded.shop.carts)
    runs: list[Run] = []
    for workers in worker_counts:
        server_cpus, load_cpus, pinned = pinning(workers, pin=args.pin)
        alone, mixed = ([next(carts) for _ in range(n)] for n in per_run)
        files["checkout"] = write_requests(
            workdir / f"checkout-{workers}-alone.txt", checkout_requests(seeded.shop, alone)
        )
        mix_checkouts = write_requests(
            workdir / f"checkout-{workers}-mix.txt", checkout_requests(seeded.shop, mixed)
        )
        name = f"{label}, {workers} worker(s)"
        with served("omnicart.app:app_from_env", env, workers=workers, cpus=server_cpus) as server:
            asyncio.run(wait_indexed(server.base))
            warm = {kind: n for kind, n in split.items() if kind != "checkout"}
            run_kinds("warm-up", server, files, warm, 1, load_cpus)
            baseline = run_kinds(
                "writers alone", server, files, writers, args.baseline_seconds, load_cpus
            )
            files["checkout"] = mix_checkouts
            pause = args.reader_pause_ms
            if pause is None:
                pause = baseline.ms_per_request
            mix = run_kinds("mix", server, files, split, args.seconds, load_cpus, pause)
        report(f"{name} ({pinned}, readers pause {pause:.0f} ms)", args, baseline, mix)
        runs += [baseline, mix]
    return runs


def report(label: str, args: argparse.Namespace, baseline: Run, mix: Run) -> None:
    """Print the table of both runs and the line on the mix's writes against the target."""
    table = Table(title=f"{label}: {args.clients} connections, mix {args.seconds:g} s (wrk)")
    columns = ("run", "kind", "connections", "requests", "req/s", "p50 ms", "p99 ms", "errors",
               "CPU ms each")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "kind") else "right")
    for run in (baseline, mix):
        for kind, m in run.kinds.items():
            table.add_row(
                run.name, kind, str(run.connections[kind]), str(m.requests), f"{m.rps:,.1f}",
                f"{m.p50_ms:.1f}", f"{m.p99_ms:.1f}", str(m.errors), "—",
            )  # fmt: skip
        requests = sum(m.requests for m in run.kinds.values())
        seconds = max(m.seconds for m in run.kinds.values())
        table.add_row(
            run.name, "all kinds", str(sum(run.connections.values())), str(requests),
            f"{requests / seconds:,.1f}", "—", "—", str(sum(m.errors for m in run.kinds.values())),
            f"{1000 * run.cpu_seconds / requests:.2f}" if requests else "—",
        )  # fmt: skip
    console.print(table)
    writes = [mix.kinds[kind] for kind in WRITES]
    worst = max(m.p99_ms for m in writes)
    write_errors = sum(m.errors for m in writes)
    each = "; ".join(
        f"{kind}: p50 {mix.kinds[kind].p50_ms:.0f} ms, p99 {mix.kinds[kind].p99_ms:.0f} ms "
        f"(alone {baseline.kinds[kind].p50_ms:.0f} / {baseline.kinds[kind].p99_ms:.0f} ms, "
        f"mix p99 ÷ alone p99 {mix.kinds[kind].p99_ms / baseline.kinds[kind].p99_ms:.2f})"
        for kind in WRITES
    )
    met = worst < 500 and sum(m.errors for m in mix.kinds.values()) == 0
    console.print(
        f"{label}: writes in the mix: {each}. Write p99 at most {worst:.0f} ms, write errors "
        f"{write_errors} (all kinds {sum(m.errors for m in mix.kinds.values())}): target "
        f"(p99 < 500 ms, 0 errors) {'met' if met else 'MISSED'}."
    )
    for run, seconds in ((baseline, args.baseline_seconds), (mix, args.seconds)):
        if run.kinds["checkout"].seconds < seconds - 1:
            console.print(
                f"[yellow]{run.name}: the checkouts ran out of prepared carts after "
                f"{run.kinds['checkout'].seconds:.1f} s[/yellow]"
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
    parser.add_argument("--clients", type=int, default=50, help="wrk connections in all")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--workers", type=int, action="append", help="worker counts (default 1)")
    parser.add_argument("--pg-url", default="", help="Also on a temporary PostgreSQL database.")
    parser.add_argument("--database-url", default="", help="Also on this (empty) database.")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--reader-pause-ms",
        type=float,
        help="readers' pause before each request (default: a writer's time per write alone)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/mixed.py needs wrk: apt-get install wrk")
    connections_of(args.clients)  # refuses too few before anything is seeded
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
