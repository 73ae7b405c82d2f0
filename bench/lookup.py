"""Product-page lookups: GraphQL ``product(gtin)`` against a plain Starlette JSON route.

Both servers are uvicorn processes on loopback over the same demo database and search index;
a closed loop of concurrent clients asks for random demo products with price, availability
and five alternatives. Prints requests/s, p50 and p99 for each and the
ratio GraphQL/plain.

    .venv/bin/python bench/lookup.py [--seconds 10] [--concurrency 16] [--database-url URL]
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path

import typer
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import closed_loop, console, print_figures, uvicorn_server  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import Database  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.models import ProductBarcode, Store  # noqa: E402

PAGE = """
query Page($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    gtin name brand
    price { regular { amount } current { amount } campaign { name } }
    availability(storeId: $storeId) {
      here { available status }
      online { available status }
      stores { available status store { code name } }
    }
    alternatives(storeId: $storeId, first: 5) { gtin name price { current { amount } } }
  }
}
"""


async def prepare(settings: Settings) -> tuple[list[str], int]:
    """Migrate, seed the demo and index it; return a sample of barcodes and a store id."""
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
            store_id = (
                (await session.execute(select(Store.id).order_by(Store.id))).scalars().first()
            )
    finally:
        await engine.close()
        await db.dispose()
    random.Random(7).shuffle(codes)
    return codes[:500], int(store_id or 0)


def main(
    seconds: float = typer.Option(10.0, help="Measured seconds per server."),
    concurrency: int = typer.Option(16, help="Requests in flight."),
    database_url: str = typer.Option("", help="Database to use (default: a fresh SQLite file)."),
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"OMNICART_DATA_DIR": tmp, "OMNICART_LOG_LEVEL": "WARNING"}
        if database_url:
            env["OMNICART_DATABASE_URL"] = database_url
        settings = Settings(data_dir=Path(tmp), database_url=database_url or None)
        console.print("Seeding the demo catalog…")
        codes, store_id = asyncio.run(prepare(settings))
        from schema.ids import encode_id

        store_gid = encode_id("Store", store_id)

        async def graphql_request(client, n):  # type: ignore[no-untyped-def]
            variables = {"gtin": codes[n % len(codes)], "storeId": store_gid}
            return await client.post("/graphql", json={"query": PAGE, "variables": variables})

        async def plain_request(client, n):  # type: ignore[no-untyped-def]
            return await client.get(f"/product/{codes[n % len(codes)]}", params={"store": store_id})

        with uvicorn_server("server.app:app_from_env", env) as base:
            graphql_figures = asyncio.run(
                closed_loop(
                    "GraphQL product(gtin)",
                    base,
                    graphql_request,
                    concurrency=concurrency,
                    seconds=seconds,
                )
            )
        with uvicorn_server("bench.plain_lookup:create_plain_app", env) as base:
            plain_figures = asyncio.run(
                closed_loop(
                    "plain Starlette JSON",
                    base,
                    plain_request,
                    concurrency=concurrency,
                    seconds=seconds,
                )
            )
    kind = "PostgreSQL" if database_url else "SQLite"
    print_figures(
        f"Product-page lookup on {kind}, {concurrency} in flight",
        [graphql_figures, plain_figures],
        plain_figures,
    )
    console.print(
        f"GraphQL/plain throughput ratio: {graphql_figures.rps / plain_figures.rps:.2f}; "
        f"p50 ratio: {graphql_figures.p50 / plain_figures.p50:.2f}"
    )


if __name__ == "__main__":
    typer.run(main)
