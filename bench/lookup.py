"""Product-page lookups under load from wrk: the GraphQL floor, the PWA's page, a plain route.

One server (the real app, ``--workers 1`` and then ``--workers 2``, as ``omnicart serve`` runs
them) over the demo catalog serves, interleaved in one invocation:

* ``floor``: ``{ __typename }``, the cost of a GraphQL request that does nothing;
* ``page``: the product screen's own document (read from ``static/js``) for random demo
  barcodes and random demo stores, sent as the PWA sends it: by its hash (a persisted query);
* ``plain``: ``bench/plain_lookup.py``'s Starlette route, the same JSON from the same services.

Load comes from wrk (Debian's ``wrk`` package) in a process of its own, pinned to other CPUs
than the server's when there are enough of them. SQLite always; PostgreSQL too with
``--database-url``. Prints req/s, p50 and p99 of each run and the ratios page/floor and
GraphQL/plain (page/plain).

    .venv/bin/python bench/lookup.py [--seconds 10] [--connections 16] [--rounds 1]
        [--workers 1 --workers 2] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import ROOT, answers, console, free_port, pinning, running  # noqa: E402
from schema.ids import encode_id  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import Database  # noqa: E402
from server.gtin import Gtin  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.models import ProductBarcode, Store  # noqa: E402
from server.pwa_documents import product_page_document  # noqa: E402

KINDS = ("floor", "page", "plain")
FLOOR = "{ __typename }"
LUA = Path(__file__).with_name("lookup.lua")


@dataclass(frozen=True)
class Run:
    """wrk's figures of one measured run."""

    kind: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Combined:
    """One kind's runs over the rounds: total throughput, median of the rounds' percentiles."""

    kind: str
    runs: list[Run]

    @property
    def rps(self) -> float:
        return sum(r.requests for r in self.runs) / sum(r.seconds for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


# (database, workers, pinning, figures per kind)
Result = tuple[str, int, str, dict[str, Combined]]


async def prepare(settings: Settings) -> tuple[list[str], list[str]]:
    """Migrate, seed the demo and index it; return every demo barcode and store id."""
    from search import create_engine
    from server.indexing import reindex_all
    from server.seed import seed_demo

    db = Database.from_settings(settings)
    engine = create_engine(settings.search_url, settings.data_dir, None)
    try:
        await upgrade_to_head(db)
        await seed_demo(db, settings)
        await reindex_all(db, engine, settings.currency)
        async with db.transaction(write=False) as session:
            codes = list((await session.execute(select(ProductBarcode.gtin))).scalars())
            stores = list((await session.execute(select(Store.id).order_by(Store.id))).scalars())
    finally:
        await engine.close()
        await db.dispose()
    return [str(Gtin(c)) for c in sorted(codes)], [encode_id("Store", s) for s in stores]


def check_answers(base: str, inputs: Path) -> None:
    """Before measuring: the page answers without errors and the plain route answers the same."""
    import httpx

    codes = (inputs / "codes.txt").read_text().split()
    stores = (inputs / "stores.txt").read_text().split()
    sample = random.Random(7)
    extensions = page_extensions()
    for _ in range(20):
        code, store = sample.choice(codes), sample.choice(stores)
        page = httpx.post(
            f"{base}/graphql",
            json={"extensions": extensions, "variables": {"gtin": code, "storeId": store}},
            timeout=30,
        ).json()
        plain = httpx.get(f"{base}/bench/product/{code}", params={"storeId": store}, timeout=30)
        if "errors" in page or page["data"]["product"] is None or plain.json() != page:
            raise SystemExit(f"page and plain route disagree for {code} at {store}: {page}")


@dataclass(frozen=True)
class Load:
    """How wrk drives the server: its inputs, connections, threads and CPUs."""

    inputs: Path
    connections: int
    threads: int
    cpus: str | None


def wrk(base: str, kind: str, seconds: float, load: Load) -> Run:
    """Run wrk with bench/lookup.lua for one kind; return its figures."""
    command = [
        "wrk", "--threads", str(load.threads), "--connections", str(load.connections),
        "--duration", f"{max(1, round(seconds))}s", "--timeout", "10s",
        "--script", str(LUA), base, "--", kind, str(load.inputs),
    ]  # fmt: skip
    if load.cpus is not None:
        command = ["taskset", "--cpu-list", load.cpus, *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    return Run(
        kind=kind,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["status_errors"] + figures["socket_errors"],
    )


def page_extensions() -> dict[str, object]:
    """The APQ extension naming the product screen's document, which the server pins."""
    sha256 = hashlib.sha256(product_page_document().encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def write_inputs(directory: Path, codes: list[str], stores: list[str]) -> None:
    """Write what lookup.lua reads: the documents, the barcodes and the store ids."""
    (directory / "page.json").write_text(json.dumps(page_extensions()))
    (directory / "floor.json").write_text(json.dumps(FLOOR))
    (directory / "codes.txt").write_text("\n".join(codes) + "\n")
    (directory / "stores.txt").write_text("\n".join(stores) + "\n")


def measure(
    label: str,
    env: dict[str, str],
    workers: int,
    inputs: Path,
    opts: dict[str, float | int],
    progress: Progress,
    task: TaskID,
) -> tuple[dict[str, Combined], str]:
    """Serve with ``workers`` processes and run floor, page and plain in turn, round by round."""
    server_cpus, load_cpus, pinned = pinning(workers)
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.plain_lookup:create_bench_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", "--ws", "websockets-sansio",
    ]  # fmt: skip
    if server_cpus is not None:
        command = ["taskset", "--cpu-list", server_cpus, *command]
    worker_env = dict(env)
    if workers > 1:
        worker_env["OMNICART_BROKER_URL"] = "database"  # what `omnicart serve` picks
    base = f"http://127.0.0.1:{port}"
    threads = len(load_cpus.split(",")) if load_cpus else 2
    load = Load(inputs, int(opts["connections"]), min(2, threads), load_cpus)
    runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
    with running(command, worker_env, lambda: answers(base + "/readyz", status=200)):
        check_answers(base, inputs)
        for kind in KINDS:  # warm every worker and code path, unmeasured
            wrk(base, kind, 1, load)
        for round_no in range(int(opts["rounds"])):
            for kind in KINDS:
                where = f"{label}, {workers} worker(s): {kind}, round {round_no + 1}"
                progress.update(task, description=where)
                runs[kind].append(wrk(base, kind, float(opts["seconds"]), load))
                progress.advance(task)
    return {kind: Combined(kind, runs[kind]) for kind in KINDS}, pinned


def print_results(results: list[Result], connections: int) -> None:
    """Print one row per run and the ratios page/floor and GraphQL/plain per set-up."""
    table = Table(title=f"Product-page lookup, wrk, {connections} connections")
    for column in ("database", "workers", "run", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("database", "run") else "right")
    for label, workers, _, combined in results:
        for kind in KINDS:
            c = combined[kind]
            table.add_row(label, str(workers), kind, f"{c.rps:,.0f}", f"{c.p50_ms:.2f}",
                          f"{c.p99_ms:.2f}", str(c.errors))  # fmt: skip
    console.print(table)
    ratios = Table(title="Ratios (req/s; p50)")
    for column in ("database", "workers", "pinning", "page/floor", "GraphQL/plain"):
        ratios.add_column(column)
    for label, workers, pinned, c in results:
        page, floor, plain = c["page"], c["floor"], c["plain"]
        ratios.add_row(
            label,
            str(workers),
            pinned,
            f"{page.rps / floor.rps:.2f}; {page.p50_ms / floor.p50_ms:.2f}",
            f"{page.rps / plain.rps:.2f}; {page.p50_ms / plain.p50_ms:.2f}",
        )
    console.print(ratios)


def main(
    seconds: Annotated[float, typer.Option(help="Measured seconds per run.")] = 10.0,
    connections: Annotated[int, typer.Option(help="Connections wrk keeps open.")] = 16,
    rounds: Annotated[
        int, typer.Option(min=1, help="Times floor, page and plain are run in turn.")
    ] = 1,
    workers: Annotated[
        list[int] | None, typer.Option(help="Worker counts to serve with (repeatable; 1 and 2).")
    ] = None,
    database_url: Annotated[str, typer.Option(help="Also run on this PostgreSQL database.")] = "",
) -> None:
    """Measure floor, page and plain for each worker count, on SQLite (and PostgreSQL)."""
    workers = workers or [1, 2]
    if shutil.which("wrk") is None:
        raise SystemExit("bench/lookup.py needs wrk: apt-get install wrk")
    setups = [("SQLite", "")] + ([("PostgreSQL", database_url)] if database_url else [])
    opts: dict[str, float | int] = {
        "seconds": seconds,
        "connections": connections,
        "rounds": rounds,
    }
    results: list[Result] = []
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip
    with progress, tempfile.TemporaryDirectory() as tmp:
        task = progress.add_task("Seeding", total=len(setups) * len(workers) * rounds * 3)
        for label, url in setups:
            data_dir = Path(tmp) / label
            settings = Settings(data_dir=data_dir, database_url=url or None)
            progress.update(task, description=f"{label}: seeding and indexing the demo")
            codes, stores = asyncio.run(prepare(settings))
            inputs = data_dir / "wrk"
            inputs.mkdir()
            write_inputs(inputs, codes, stores)
            env = {
                "OMNICART_DATA_DIR": str(data_dir),
                "OMNICART_LOG_LEVEL": "WARNING",
                "OMNICART_SECRET_KEY": "bench-lookup-secret",
                "OMNICART_DATABASE_URL": url,
            }
            for count in workers:
                combined, pinned = measure(label, env, count, inputs, opts, progress, task)
                results.append((label, count, pinned, combined))
    print_results(results, connections)


if __name__ == "__main__":
    typer.run(main)
