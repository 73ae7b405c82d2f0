"""The outbox keeps the search index in step with the database, crash or no crash."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import delete, func, select, update

from search import SearchEngineUnavailable, SearchRequest
from search.embedded import EmbeddedEngine
from server.db import Database
from server.importer import import_catalog
from server.indexing import Indexer, reindex_all
from server.models import OutboxEvent, Product, ProductPage, StockLevel
from server.outbox import record_product_changes
from tests.rows import add_online_warehouse, add_product, add_store, fresh_ean13


async def pending(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()


async def hits(engine: EmbeddedEngine, query: str, **filters: object) -> list[int]:
    response = await engine.search(SearchRequest(query=query, **filters))  # type: ignore[arg-type]
    return [h.id for h in response.hits]


async def test_a_new_product_is_searchable_after_the_outbox_drains(
    db: Database, tmp_path: Path
) -> None:
    engine = EmbeddedEngine(tmp_path / "index")
    pid = await add_product(db, name="Tine Helmelk", brand="Tine")
    assert await pending(db) == 1
    assert await Indexer(db, engine, "NOK").drain() == 1
    assert await pending(db) == 0
    assert await hits(engine, "helmlek") == [pid]
    await engine.close()


async def test_a_stock_change_reaches_the_in_stock_filter(db: Database, tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "index")
    store_id, location = await add_store(db, "OSL")
    pid = await add_product(db, name="Jarlsberg", stock={location: (0, 0)})
    indexer = Indexer(db, engine, "NOK")
    await indexer.drain()
    assert await hits(engine, "jarlsberg", in_stock_at=store_id) == []
    async with db.transaction() as session:
        await session.execute(
            update(StockLevel).where(StockLevel.product_id == pid).values(on_hand=4)
        )
        await record_product_changes(session, [pid])
    await indexer.drain()
    assert await hits(engine, "jarlsberg", in_stock_at=store_id) == [pid]
    await engine.close()


async def set_stock(db: Database, product_id: int, on_hand: int) -> None:
    """Change a product's stock as a checkout or delivery does: a stock-only outbox row."""
    async with db.transaction() as session:
        await session.execute(
            update(StockLevel).where(StockLevel.product_id == product_id).values(on_hand=on_hand)
        )
        await record_product_changes(session, [product_id], stock_only=True)


async def stored_page(db: Database, product_id: int) -> tuple[object, str | None] | None:
    """Return the page's (read_at, search_stock) as stored, or None without a page."""
    async with db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(ProductPage.read_at, ProductPage.search_stock).where(
                    ProductPage.product_id == product_id
                )
            )
        ).one_or_none()
    return None if row is None else (row.read_at, row.search_stock)


async def test_a_stock_change_that_flips_no_filter_sends_the_engine_nothing(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "TRD")
    pid = await add_product(db, name="Grandiosa", stock={location: (9, 0)})
    engine = EmbeddedEngine(tmp_path / "index")
    await Indexer(db, engine, "NOK").drain()
    page = await stored_page(db, pid)
    assert page is not None and page[1] == json.dumps([[store_id], False])
    await engine.close()
    # Still in stock at the store: a closed engine refuses every call, so draining through
    # one shows nothing was sent; the page is not written again either.
    await set_stock(db, pid, 3)
    await Indexer(db, engine, "NOK").drain()
    assert await pending(db) == 0
    assert await stored_page(db, pid) == page
    reopened = EmbeddedEngine(tmp_path / "index")
    assert await hits(reopened, "grandiosa", in_stock_at=store_id) == [pid]
    await reopened.close()


async def test_a_stock_change_that_flips_a_filter_reaches_the_engine_and_keeps_the_page(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "BGO")
    pid = await add_product(db, name="Nugatti", stock={location: (2, 0)})
    engine = EmbeddedEngine(tmp_path / "index")
    indexer = Indexer(db, engine, "NOK")
    await indexer.drain()
    before = await stored_page(db, pid)
    assert before is not None
    await set_stock(db, pid, 0)
    assert await indexer.drain() == 1
    assert await hits(engine, "nugatti", in_stock_at=store_id) == []
    assert await stored_page(db, pid) == (before[0], json.dumps([[], False]))
    await engine.close()
    # Back in stock while the engine is down: the change waits in the outbox.
    await set_stock(db, pid, 5)
    try:
        await Indexer(db, engine, "NOK").drain()
    except SearchEngineUnavailable:
        pass
    else:
        raise AssertionError("a flipped filter should have been sent to the closed engine")
    assert await pending(db) == 1
    reopened = EmbeddedEngine(tmp_path / "index")
    assert await Indexer(db, reopened, "NOK").drain() == 1
    assert await hits(reopened, "nugatti", in_stock_at=store_id) == [pid]
    await reopened.close()


async def test_a_stock_change_of_a_product_without_a_page_builds_it(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "SVG")
    pid = await add_product(db, name="Kaviar", stock={location: (1, 0)})
    engine = EmbeddedEngine(tmp_path / "index")
    indexer = Indexer(db, engine, "NOK")
    await indexer.drain()
    async with db.transaction() as session:
        await session.execute(delete(ProductPage).where(ProductPage.product_id == pid))
    await set_stock(db, pid, 4)
    await indexer.drain()
    page = await stored_page(db, pid)
    assert page is not None and page[1] == json.dumps([[store_id], False])
    assert await hits(engine, "kaviar", in_stock_at=store_id) == [pid]
    await engine.close()


async def test_an_engine_outage_loses_no_change(db: Database, tmp_path: Path) -> None:
    pid = await add_product(db, name="Kvikk Lunsj")
    broken = EmbeddedEngine(tmp_path / "index")
    await broken.close()  # a closed engine refuses every call, as a crashed one would
    try:
        await Indexer(db, broken, "NOK").drain()
    except SearchEngineUnavailable:
        pass
    else:
        raise AssertionError("draining into a closed engine should fail")
    assert await pending(db) == 1
    engine = EmbeddedEngine(tmp_path / "index")
    assert await Indexer(db, engine, "NOK").drain() == 1
    assert await hits(engine, "kvikk lunsj") == [pid]
    await engine.close()


async def test_a_deactivated_product_leaves_the_index(db: Database, tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "index")
    pid = await add_product(db, name="Solo Superleskende")
    indexer = Indexer(db, engine, "NOK")
    await indexer.drain()
    async with db.transaction() as session:
        await session.execute(update(Product).where(Product.id == pid).values(active=False))
        await record_product_changes(session, [pid])
    await indexer.drain()
    assert await hits(engine, "solo") == []
    await engine.close()


async def test_reindex_rebuilds_everything_and_clears_the_outbox(
    db: Database, tmp_path: Path
) -> None:
    engine = EmbeddedEngine(tmp_path / "index")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    ids = [
        await add_product(
            db, name=f"Pålegg {i}", gtins=[code] if i == 0 else None, stock={online: (1, 0)}
        )
        for i in range(25)
    ]
    progress: list[tuple[int, int]] = []
    assert (
        await reindex_all(
            db, engine, "NOK", batch=10, on_progress=lambda d, t: progress.append((d, t))
        )
        == 25
    )
    assert progress == [(10, 25), (20, 25), (25, 25)]
    assert await engine.count() == 25
    assert await pending(db) == 0
    assert await hits(engine, code) == [ids[0]]
    document = await engine.get(ids[0])
    assert document is not None and document.in_stock_online is True
    await engine.close()


async def test_an_imported_own_code_is_searchable_by_its_barcode(
    db: Database, tmp_path: Path
) -> None:
    engine = EmbeddedEngine(tmp_path / "index")
    own, rcn8 = fresh_ean13("23"), "02000206"
    path = tmp_path / "own.jsonl"
    path.write_text(
        json.dumps({"code": own, "product_name": "Grovbrød"})
        + "\n"
        + json.dumps({"code": rcn8, "product_name": "Wienerbrød"})
        + "\n",
        encoding="utf-8",
    )
    report = await import_catalog(db, path, currency="NOK")
    assert (report.created, report.rejected) == (2, 0)
    assert await Indexer(db, engine, "NOK").drain() == 2
    async with db.transaction(write=False) as session:
        by_name = dict((await session.execute(select(Product.name, Product.id))).all())
    assert await hits(engine, own) == [by_name["Grovbrød"]]
    assert await hits(engine, own[:7]) == [by_name["Grovbrød"]]
    assert await hits(engine, rcn8) == [by_name["Wienerbrød"]]
    assert await hits(engine, "0" + own[:-1] + str((int(own[-1]) + 1) % 10)) == []
    await engine.close()
