"""The product-page read model: what a scan reads, how many statements, and that it is true.

Pages are written by the indexer (here ``Indexer.drain``, as the server runs it) and read by
``product(gtin)`` through ``runtime.pages``. Every test reads through the real app over real
SQLite and PostgreSQL; statements are counted with SQLAlchemy's ``before_cursor_execute`` on
the runtime's engines and, for the page reader, the drivers' own tracing (SQLite's trace
callback, asyncpg's query logger).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url

from schema.ids import encode_id
from server.club.membership import Consents, join_club
from server.db import Database
from server.gtin import parse_gtin
from server.indexing import Indexer, reindex_all
from server.models import Customer, Price, Product, ProductPage, utcnow
from server.outbox import record_product_changes
from server.page_cache import ProductPages
from server.page_reads import page_reads_for
from server.product_pages import build_pages, decode_page, encode_page, write_pages
from server.runtime import Runtime
from tests.clients import client_of, collect_at, graphql, place_order, runtime_for, sign_up
from tests.rows import (
    add_campaign,
    add_device,
    add_online_warehouse,
    add_product,
    add_store,
    fresh_ean13,
)
from tests.stock_helpers import movement, record

PAGE = """
query Page($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    name gtins
    price { current { amount } campaign { name } }
    availability(storeId: $storeId) { here { available status } online { available }
      stores { available store { name } } }
  }
}
"""


class Statements:
    """Counts the SQL statements sent by a runtime's engine and its page reader."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def record(self, statement: str) -> None:
        self.sent.append(statement)

    @contextmanager
    def on_engines(self, runtime: Runtime) -> Iterator[None]:
        engines = [runtime.db.engine.sync_engine]
        if not runtime.db.is_sqlite:  # where read-only operations run
            engines.append(runtime.db.autocommit_reads().sync_engine)

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.record(statement)

        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            yield
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent


def counted_runtime(
    db: Database, tmp_path: Path, **overrides: object
) -> tuple[Runtime, Statements]:
    """A runtime whose page reader reports its statements to the returned counter."""
    statements = Statements()
    runtime = runtime_for(db, tmp_path, **overrides)
    runtime.pages = ProductPages(
        db,
        runtime.events,
        runtime.settings.currency,
        cache_seconds=runtime.settings.page_cache_seconds,
        reads=page_reads_for(db, trace=statements.record),
    )
    return runtime, statements


async def drain(runtime: Runtime) -> None:
    """Run the indexer over the pending outbox rows, as the server does every half second."""
    await Indexer(runtime.db, runtime.search, runtime.settings.currency).drain()


async def page_of(client: httpx.AsyncClient, code: str, store: str | None) -> dict[str, Any]:
    body = await graphql(client, PAGE, {"gtin": code, "storeId": store})
    assert "errors" not in body, body
    return body["data"]["product"]  # type: ignore[index,no-any-return]


async def shop(db: Database) -> tuple[str, int, int, str]:
    """A store, the online warehouse and a product with 5 there and 2 online (price 4990)."""
    store_id, location = await add_store(db, "OSL", "Oslo City")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    product_id = await add_product(
        db, gtins=[code], name="Brunost", stock={location: (5, 0), online: (2, 0)}
    )
    return code, store_id, product_id, encode_id("Store", store_id)


async def test_a_page_costs_one_statement_on_a_miss_and_none_from_the_cache(
    db: Database, tmp_path: Path
) -> None:
    code, _, _, store = await shop(db)
    runtime, statements = counted_runtime(db, tmp_path)
    await drain(runtime)
    async with client_of(runtime) as client:
        with statements.on_engines(runtime):
            first = await page_of(client, code, store)
            on_miss = statements.take()
            await asyncio.sleep(0.05)  # the cache's listener subscribes
            await page_of(client, code, store)  # read again: now it is kept
            statements.take()
            cached = await page_of(client, code, store)
            on_hit = statements.take()
    assert len(on_miss) == 1, on_miss
    assert "FROM product_barcodes b JOIN product_pages p" in on_miss[0]
    assert on_hit == []
    assert (
        first
        == cached
        == {
            "name": "Brunost",
            "gtins": [code],
            "price": {"current": {"amount": 4990}, "campaign": None},
            "availability": {
                "here": {"available": 5, "status": "IN_STOCK"},
                "online": {"available": 2},
                "stores": [{"available": 5, "store": {"name": "Oslo City"}}],
            },
        }
    )
    await runtime.pages.close()


async def test_an_unknown_code_is_null_in_two_statements(db: Database, tmp_path: Path) -> None:
    runtime, statements = counted_runtime(db, tmp_path)
    async with client_of(runtime) as client:
        with statements.on_engines(runtime):
            body = await graphql(client, PAGE, {"gtin": fresh_ean13(), "storeId": None})
            sent = statements.take()
    assert body == {"data": {"product": None}}
    assert len([s for s in sent if s.lstrip().upper().startswith("SELECT")]) == 2, sent
    await runtime.pages.close()


async def test_a_checkout_shows_on_the_next_page_read(db: Database, tmp_path: Path) -> None:
    code, store_id, _, store = await shop(db)
    runtime = runtime_for(db, tmp_path)
    await drain(runtime)
    async with client_of(runtime) as client:
        await page_of(client, code, store)
        await asyncio.sleep(0.05)
        await page_of(client, code, store)  # cached now
        await place_order(client, [(code, 2)], collect_at(store_id))
        after = await page_of(client, code, store)
    assert after["availability"]["here"] == {"available": 3, "status": "LOW_STOCK"}
    assert after["availability"]["stores"] == [{"available": 3, "store": {"name": "Oslo City"}}]
    await runtime.pages.close()


async def test_a_till_sale_not_yet_drained_leaves_the_page_usable_and_shows_at_once(
    db: Database, tmp_path: Path
) -> None:
    code, store_id, _, store = await shop(db)
    till = await add_device(db, "OSL", "pos")
    runtime, statements = counted_runtime(db, tmp_path, page_cache_seconds=0)
    await drain(runtime)
    async with client_of(runtime) as client:
        sale = movement(code, store_id, "SALE", 2)
        assert (await record(client, till, [sale]))["applied"] == 1
        with statements.on_engines(runtime):
            after = await page_of(client, code, store)
            sent = statements.take()
    # Only its stock changed: the page (which bakes in no stock) is read, not the catalog.
    assert len(sent) == 1, sent
    assert "FROM product_barcodes b JOIN product_pages p" in sent[0]
    assert after["availability"]["here"] == {"available": 3, "status": "LOW_STOCK"}
    await runtime.pages.close()


async def change_price(db: Database, product_id: int, amount: int) -> None:
    """Change the regular price the way the importer does: the row and an outbox row."""
    async with db.transaction() as session:
        await session.execute(
            update(Price).where(Price.product_id == product_id).values(amount=amount)
        )
        await record_product_changes(session, [product_id])


async def test_a_price_change_not_yet_drained_is_read_from_the_catalog(
    db: Database, tmp_path: Path
) -> None:
    code, _, product_id, store = await shop(db)
    for _ in range(3):  # drained together: on SQLite the next outbox row reuses id 1
        await add_product(db)
    runtime = runtime_for(db, tmp_path, page_cache_seconds=0)
    await drain(runtime)
    async with client_of(runtime) as client:
        before = await page_of(client, code, store)
        await change_price(db, product_id, 3990)
        pending = await page_of(client, code, store)
        await drain(runtime)
        drained = await page_of(client, code, store)
    assert before["price"]["current"] == {"amount": 4990}
    assert pending["price"]["current"] == drained["price"]["current"] == {"amount": 3990}
    async with db.transaction(write=False) as session:
        document = (
            await session.execute(
                select(ProductPage.document).where(ProductPage.product_id == product_id)
            )
        ).scalar_one()
    assert decode_page(document).regular == 3990
    await runtime.pages.close()


async def test_a_change_nobody_announced_reaches_the_cache_when_the_indexer_drains_it(
    db: Database, tmp_path: Path
) -> None:
    code, _, product_id, store = await shop(db)
    runtime = runtime_for(db, tmp_path)
    indexer = Indexer(db, runtime.search, "NOK", events=runtime.events)
    await indexer.drain()
    async with client_of(runtime) as client:
        await page_of(client, code, store)
        await asyncio.sleep(0.05)
        await page_of(client, code, store)
        await change_price(db, product_id, 2990)  # as `omnicart import` in another process
        await indexer.drain()  # announces the drained products on the products topic
        deadline = time.monotonic() + 1.0
        while (page := await page_of(client, code, store))["price"]["current"]["amount"] != 2990:
            assert time.monotonic() < deadline, page
            await asyncio.sleep(0.01)
    await runtime.pages.close()


async def test_campaign_windows_are_evaluated_at_read_time_even_from_the_cache(
    db: Database, tmp_path: Path
) -> None:
    code, _, product_id, store = await shop(db)
    runtime, statements = counted_runtime(db, tmp_path, page_cache_seconds=60)
    # Only the campaigns, the drain and the first read must fit before the boundary (on a
    # loaded machine 1.5 s from the shop's set-up was once too short).
    boundary = utcnow() + timedelta(seconds=3)
    await add_campaign(db, product_id, 3990, name="Helg", starts_at=boundary, ends_at=None)
    await add_campaign(db, product_id, 4490, name="Uke", starts_at=None, ends_at=boundary)
    await drain(runtime)
    async with client_of(runtime) as client:
        before = await page_of(client, code, store)
        assert utcnow() < boundary, "the first read came after the boundary: set-up too slow"
        await asyncio.sleep(0.05)
        await page_of(client, code, store)
        await asyncio.sleep(max((boundary - utcnow()).total_seconds(), 0) + 0.05)
        statements.take()  # the reads so far
        with statements.on_engines(runtime):
            after = await page_of(client, code, store)
            sent = statements.take()
    assert before["price"] == {"current": {"amount": 4490}, "campaign": {"name": "Uke"}}
    assert after["price"] == {"current": {"amount": 3990}, "campaign": {"name": "Helg"}}
    assert sent == []  # from the cache: the window was evaluated on the read itself
    await runtime.pages.close()


MEMBER_PRICE = """
query Page($gtin: String!) {
  product(gtin: $gtin) { price { current { amount } member { amount } campaign { name } } }
}
"""


async def test_a_members_campaign_is_a_nudge_on_the_page_and_the_price_of_a_member(
    db: Database, tmp_path: Path
) -> None:
    code, _, product_id, _ = await shop(db)
    await add_campaign(db, product_id, 3990, name="Klubbpris", starts_at=None, ends_at=None,
                       members_only=True)  # fmt: skip
    runtime, statements = counted_runtime(db, tmp_path, page_cache_seconds=60)
    await drain(runtime)
    async with client_of(runtime) as client:
        with statements.on_engines(runtime):
            shopper = await graphql(client, MEMBER_PRICE, {"gtin": code})
            sent = statements.take()
        member = await sign_up(client, "klubb@example.com")
        async with db.transaction() as session:
            customer = await session.scalar(select(Customer.id))
            await join_club(session, customer, Consents(club_terms=True), now=utcnow())
        signed_in = await graphql(client, MEMBER_PRICE, {"gtin": code}, member)
    assert shopper["data"]["product"]["price"] == {
        "current": {"amount": 4990}, "member": {"amount": 3990}, "campaign": None,
    }  # fmt: skip
    assert len(sent) == 1  # the page, from the read model
    assert signed_in["data"]["product"]["price"] == {
        "current": {"amount": 3990}, "member": {"amount": 3990}, "campaign": {"name": "Klubbpris"},
    }  # fmt: skip
    await runtime.pages.close()


async def test_a_deactivated_product_has_no_page_and_answers_null(
    db: Database, tmp_path: Path
) -> None:
    code, _, product_id, store = await shop(db)
    runtime = runtime_for(db, tmp_path, page_cache_seconds=0)
    await drain(runtime)
    async with db.transaction() as session:
        await session.execute(update(Product).where(Product.id == product_id).values(active=False))
        await record_product_changes(session, [product_id])
    async with client_of(runtime) as client:
        pending = await graphql(client, PAGE, {"gtin": code, "storeId": store})
        await drain(runtime)
        drained = await graphql(client, PAGE, {"gtin": code, "storeId": store})
    assert pending == drained == {"data": {"product": None}}
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(ProductPage.product_id))).all() == []
    await runtime.pages.close()


async def test_an_older_build_never_replaces_a_newer_page(db: Database, tmp_path: Path) -> None:
    _, _, product_id, _ = await shop(db)
    old_read = utcnow()
    async with db.transaction(write=False) as session:
        old, _ = await build_pages(session, [product_id], "NOK")
    await change_price(db, product_id, 1990)
    new_read = utcnow()
    async with db.transaction(write=False) as session:
        new, _ = await build_pages(session, [product_id], "NOK")
    async with db.transaction() as session:
        await write_pages(session, new.values(), [], read_at=new_read)
    async with db.transaction() as session:
        await write_pages(session, old.values(), [], read_at=old_read)
    async with db.transaction() as session:
        await write_pages(session, [], [product_id], read_at=old_read)  # nor drops it
    async with db.transaction(write=False) as session:
        document = (await session.execute(select(ProductPage.document))).scalar_one()
    assert decode_page(document).regular == 1990


async def test_reindex_rebuilds_a_page_that_went_wrong(db: Database, tmp_path: Path) -> None:
    _, _, product_id, _ = await shop(db)
    runtime = runtime_for(db, tmp_path, page_cache_seconds=0)
    await drain(runtime)
    async with db.transaction(write=False) as session:
        (page,), _ = (await build_pages(session, [product_id], "NOK"))[0].values(), None
    wrong = encode_page(page.__class__(**{**_fields(page), "name": "Wrong", "printed": ()}))
    async with db.transaction() as session:
        await session.execute(update(ProductPage).values(document=wrong))
    assert await reindex_all(db, runtime.search, "NOK") == 1
    async with db.transaction(write=False) as session:
        document = (await session.execute(select(ProductPage.document))).scalar_one()
    assert decode_page(document) == page
    await runtime.pages.close()


def _fields(page: Any) -> dict[str, Any]:
    return {name: getattr(page, name) for name in page.__dataclass_fields__}


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_page_read_survives_its_pooled_backend_being_terminated(
    db: Database, tmp_path: Path
) -> None:
    code, _, _, _ = await shop(db)
    runtime = runtime_for(db, tmp_path, page_cache_seconds=0)
    await drain(runtime)
    url = make_url(db.url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        assert (await runtime.pages.read(parse_gtin(code))) is not None  # pools a connection
        terminated = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
        assert terminated >= 1
        read = await runtime.pages.read(parse_gtin(code))
    finally:
        await admin.close()
        await runtime.pages.close()
    assert read is not None and read.page.name == "Brunost"
