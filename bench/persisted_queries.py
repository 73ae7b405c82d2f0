"""The product page sent by hash against the same page sent as text, in one process.

A micro-benchmark of what persisted queries save: the real app (``create_app``) over a
migrated SQLite file, driven in-process through httpx's ASGI transport (no sockets, one
client at a time), so the figures are the server's own CPU time per request (process time:
other work on the machine slows a round but is not counted in it). Interleaved rounds of:

* ``text``: the product screen's document as text (Strawberry's parser and validation caches
  answer it, but the validation cache hashes the whole AST on every lookup);
* ``hash``: the same document by its SHA-256 (the pinned PWA document: no parse, no validation);
* ``floor``: ``{ __typename }`` as text, a request that does next to nothing;
* ``text`` and ``hash`` again with Strawberry's parser and validation caches emptied before
  each request, as a stream of more than ``PARSE_CACHE_SIZE`` other documents leaves them:
  the text is parsed and validated again, the kept document by hash is not.

The barcode is well-formed but unknown, so execution is one indexed read and the pre-execution
work is a visible share. Also timed alone: a parse plus a validation of the document, and one
validation-cache lookup. Prints microseconds per request (the best round of each) and text/hash.

    .venv/bin/python bench/persisted_queries.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from graphql import parse, validate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import console  # noqa: E402
from omnicart.app import create_app  # noqa: E402
from schema.build import PARSE_CACHE_SIZE, build_schema  # noqa: E402
from schema.persisted import TextParserCache, TextValidationCache  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import Database  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.pwa_documents import product_page_document  # noqa: E402

UNKNOWN_GTIN = "7000000000003"


def bodies() -> dict[str, dict[str, Any]]:
    """The request body of each kind."""
    page = product_page_document()
    variables = {"gtin": UNKNOWN_GTIN, "storeId": None}
    sha256 = hashlib.sha256(page.encode()).hexdigest()
    return {
        "text": {"query": page, "variables": variables},
        "hash": {
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}},
            "variables": variables,
        },
        "floor": {"query": "{ __typename }"},
    }


def clear_text_caches() -> None:
    """Empty Strawberry's parser and validation caches, as a flood of other documents would."""
    TextParserCache(maxsize=PARSE_CACHE_SIZE).cached_parse_document.cache_clear()
    TextValidationCache(maxsize=PARSE_CACHE_SIZE).cached_validate_document.cache_clear()


async def per_request_us(
    client: httpx.AsyncClient, body: dict[str, Any], requests: int, cold: bool = False
) -> float:
    """Send one body ``requests`` times; return the mean CPU microseconds per request."""
    started = time.process_time()
    for _ in range(requests):
        if cold:
            clear_text_caches()
        response = await client.post("/graphql", json=body)
        if response.status_code != 200 or "errors" in response.json():
            raise SystemExit(f"unexpected answer: {response.text}")
    return (time.process_time() - started) / requests * 1e6


def alone_us(step: Callable[[], object], times: int = 500) -> float:
    """Return the mean CPU microseconds of one call of ``step``."""
    started = time.process_time()
    for _ in range(times):
        step()
    return (time.process_time() - started) / times * 1e6


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    """Run interleaved rounds of every kind against one app; return their figures."""
    with tempfile.TemporaryDirectory() as data_dir:
        url = f"sqlite+aiosqlite:///{data_dir}/bench.db"
        settings = Settings(data_dir=Path(data_dir), database_url=url, index_on_start=False)  # type: ignore[arg-type]
        db = Database(url)
        await upgrade_to_head(db)
        await db.dispose()
        app = create_app(settings, migrate=False)
        kinds = [*bodies(), "text (caches emptied)", "hash (caches emptied)"]
        figures: dict[str, list[float]] = {kind: [] for kind in kinds}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for body in bodies().values():  # warm the caches and the kept document
                    await per_request_us(client, body, 50)
                for _ in range(rounds):
                    for kind, body in bodies().items():
                        figures[kind].append(await per_request_us(client, body, requests))
                    for kind in ("text", "hash"):
                        cold = await per_request_us(client, bodies()[kind], requests, cold=True)
                        figures[f"{kind} (caches emptied)"].append(cold)
    return figures


def main(
    requests: Annotated[int, typer.Option(help="Requests per kind and round.")] = 2000,
    rounds: Annotated[int, typer.Option(help="Interleaved rounds.")] = 5,
) -> None:
    """Print microseconds per request by text and by hash, and the pre-execution steps alone."""
    figures = asyncio.run(measure(requests, rounds))
    # The fastest round is the least disturbed by other work on the machine.
    best = {kind: min(values) for kind, values in figures.items()}
    for kind, value in best.items():
        spread = ", ".join(f"{v:.0f}" for v in figures[kind])
        console.print(f"{kind:>21}: {value:7.0f} µs per request, best round  (rounds: {spread})")
    console.print(f"text/hash: {best['text'] / best['hash']:.3f}")
    console.print(f"saved per request: {best['text'] - best['hash']:.0f} µs")
    text, hashed = best["text (caches emptied)"], best["hash (caches emptied)"]
    console.print(f"caches emptied, text/hash: {text / hashed:.3f} ({text - hashed:.0f} µs saved)")

    schema = build_schema(Settings())._schema
    page = product_page_document()
    document = parse(page)
    prepare = alone_us(lambda: validate(schema, parse(page)))
    console.print(f"parse + validate alone: {prepare:.0f} µs")
    lookup = alone_us(lambda: hash(document))
    console.print(f"validation-cache lookup (hash of the AST): {lookup:.0f} µs")


if __name__ == "__main__":
    typer.run(main)
