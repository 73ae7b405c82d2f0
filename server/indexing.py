"""Keeping the search index in step with the database through the transactional outbox.

Every product, price or stock change writes an outbox row in the same transaction as the
change (``server.outbox.record_product_changes``). The indexer drains those rows: it reads
the products' current state from the database, sends the documents to the engine, and only
then writes the products' pages (the scan path's read model, ``server.product_pages``), the
alternatives lists they touch (``server.alternatives``) and deletes the rows, in one
transaction. A crash between the two re-sends the same (current)
documents on the next run, so nothing is lost and nothing goes stale.

A change of a product's stock alone (a checkout, a delivery) leaves its page as it is: the
page bakes in no stock. Only the document's stock filters (in stock at which stores,
online) can change, and the page notes those the engine last got (``search_stock``), so a
round sends the engine only the documents whose filters flipped and writes no page: at a
Saturday's checkout rate, a product in stock stays in stock and costs one read.

On PostgreSQL the rows being indexed stay locked (``FOR UPDATE SKIP LOCKED``), so several
indexer processes share the work.

The embedded (tantivy) index takes one writer: ``lead_indexing`` elects it with an OS file
lock next to the index, so of several server workers (and ``omnicart indexer``) exactly one
runs the indexer and, should it die, another takes over. The others only read: tantivy's
reader reloads on commit (it watches the index's ``meta.json``), so their searches see what
the writing process committed within about a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

from filelock import FileLock, Timeout
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from search import ProductDocument, SearchEngine, SearchError
from search.embedded import EmbeddedEngine
from server import catalog, pricing
from server.alternatives import rebuild_alternatives, refresh_alternatives, stored_pages
from server.db import Database
from server.events import Broker, announce_product_changes
from server.gtin import Gtin
from server.models import OutboxEvent, Product, ProductPage, utcnow
from server.outbox import INDEXED_TOPICS, PRODUCT_TOPIC
from server.product_pages import PageData, build_pages, decode_page, write_pages

log = logging.getLogger("omnicart.indexing")


def build_document(
    product: Product,
    gtins: Sequence[str],
    price: pricing.PriceInfo | None,
    stock: Sequence[catalog.StockFigure],
    currency: str,
) -> ProductDocument:
    """Return the search document of a product from its row, barcodes, price and stock."""
    shown = pricing.shown_price(price, currency)
    forms: list[str] = []
    for digits in gtins:
        forms.extend(f for f in Gtin(digits).forms if f not in forms)
    return ProductDocument(
        id=product.id,
        name=product.name,
        brand=product.brand,
        categories=list(product.categories or []),
        description=product.description,
        barcodes=forms,
        price=shown.current,
        currency=shown.currency,
        in_stock_at=sorted(
            {
                f.store_id
                for f in stock
                if f.store_id is not None and not f.online and f.available > 0
            }
        ),
        in_stock_online=any(f.online and f.available > 0 for f in stock),
        quantity=product.quantity,
        image_url=product.image_url,
    )


def page_document(page: PageData, stock: Sequence[catalog.StockFigure]) -> ProductDocument:
    """Return the search document of a product from its read-model page and its stock."""
    forms: list[str] = []
    for digits in page.gtins:
        forms.extend(f for f in Gtin(digits).forms if f not in forms)
    return ProductDocument(
        id=page.product_id,
        name=page.name,
        brand=page.brand,
        categories=list(page.categories),
        description=page.description,
        barcodes=forms,
        price=page.price_at(utcnow()).current,
        currency=page.currency,
        in_stock_at=sorted(
            {
                f.store_id
                for f in stock
                if f.store_id is not None and not f.online and f.available > 0
            }
        ),
        in_stock_online=any(f.online and f.available > 0 for f in stock),
        quantity=page.quantity,
        image_url=page.image_url,
    )


def search_stock(docs: Iterable[ProductDocument]) -> dict[int, str]:
    """Return each document's stock filters as its page stores them, by product id
    (``ProductPage.search_stock``)."""
    return {doc.id: json.dumps([doc.in_stock_at, doc.in_stock_online]) for doc in docs}


@dataclass(frozen=True)
class IndexBatch:
    """What one batch of changed products becomes: search documents, pages, ids to drop."""

    docs: list[ProductDocument]
    pages: list[PageData]
    gone: list[int]
    read_at: datetime  # taken before the state was read


EMPTY_BATCH = IndexBatch([], [], [], datetime.min)


async def index_batch(
    session: AsyncSession, product_ids: Iterable[int], currency: str
) -> IndexBatch:
    """Read the products' current state once; return their documents, pages and the gone ids."""
    read_at = utcnow()
    pages, gone = await build_pages(session, product_ids, currency)
    stock = await catalog.stock_by_product(session, list(pages))
    ordered = [pages[i] for i in sorted(pages)]
    docs = [page_document(p, stock.get(p.product_id, [])) for p in ordered]
    return IndexBatch(docs, ordered, gone, read_at)


async def stock_moves(
    session: AsyncSession, product_ids: set[int]
) -> tuple[list[ProductDocument], set[int]]:
    """Return, of products whose stock alone changed, the documents whose stock filters
    flipped since the engine last got them, and the ids without a page (indexed in full).

    Their pages stay as they are (a page bakes in no stock); only those documents go to the
    engine, and their pages note the filters sent. At a checkout rate most changes flip
    nothing (a product in stock stays in stock), so most rounds send the engine nothing and
    write no page.
    """
    if not product_ids:
        return [], set()
    stored = (
        await session.execute(
            select(ProductPage.product_id, ProductPage.document, ProductPage.search_stock).where(
                ProductPage.product_id.in_(product_ids)
            )
        )
    ).all()
    stock = await catalog.stock_by_product(session, [row.product_id for row in stored])
    docs = []
    for product_id, document, sent in sorted(stored):
        doc = page_document(decode_page(document), stock.get(product_id, []))
        if search_stock([doc])[product_id] != sent:
            docs.append(doc)
    return docs, product_ids - {row.product_id for row in stored}


async def documents_for(
    session: AsyncSession, product_ids: Iterable[int], currency: str
) -> tuple[list[ProductDocument], list[int]]:
    """Return the documents of the active products among ``product_ids`` and the ids to drop."""
    batch = await index_batch(session, product_ids, currency)
    return batch.docs, batch.gone


async def _send(engine: SearchEngine, docs: list[ProductDocument], gone: list[int]) -> None:
    if docs:
        await engine.index(docs)
    if gone:
        await engine.delete(gone)


# Built once: the stock filters sent, one parameter set per page (executemany).
_PAGES = cast(Table, ProductPage.__table__)
_NOTE_SEARCH_STOCK = (
    update(_PAGES)
    .where(_PAGES.c.product_id == bindparam("page_id"))
    .values(search_stock=bindparam("sent"))
)


async def _store_pages(session: AsyncSession, batch: IndexBatch) -> None:
    """Write the batch's pages with the stock filters their documents send, drop the gone."""
    await write_pages(
        session,
        batch.pages,
        batch.gone,
        read_at=batch.read_at,
        search_stock=search_stock(batch.docs),
    )


async def _consume(
    session: AsyncSession, batch: IndexBatch, moved: list[ProductDocument], outbox_ids: list[int]
) -> None:
    """Write the batch's pages and the alternatives they touch, note the stock filters sent,
    delete the outbox rows they cover, in one transaction."""
    if batch.pages or batch.gone:
        before = await stored_pages(session, [p.product_id for p in batch.pages] + batch.gone)
        await _store_pages(session, batch)
        await refresh_alternatives(session, before, batch.pages, batch.gone)
    if moved:
        await session.execute(
            _NOTE_SEARCH_STOCK,
            [{"page_id": pid, "sent": sent} for pid, sent in search_stock(moved).items()],
        )
    await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(outbox_ids)))


class Indexer:
    """Drains the product outbox into the search engine, in the server or as its own worker."""

    def __init__(
        self,
        db: Database,
        engine: SearchEngine,
        currency: str,
        batch: int = 500,
        *,
        events: Broker | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.currency = currency
        self.batch = batch
        self.events = events
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask the running loop to drain now instead of at its next tick."""
        self._wake.set()

    async def drain_once(self) -> int:
        """Index one batch of pending changes; return how many outbox rows it consumed."""
        async with self.db.transaction(write=not self.db.is_sqlite) as session:
            stmt = (
                select(OutboxEvent.id, OutboxEvent.entity_id, OutboxEvent.topic)
                .where(OutboxEvent.topic.in_(INDEXED_TOPICS))
                .order_by(OutboxEvent.id)
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await session.execute(stmt)).all()
            if not rows:
                return 0
            changed = {r.entity_id for r in rows}
            data = {r.entity_id for r in rows if r.topic == PRODUCT_TOPIC}
            moved, without_page = await stock_moves(session, changed - data)
            full = data | without_page
            batch = await index_batch(session, full, self.currency) if full else EMPTY_BATCH
            if not self.db.is_sqlite:
                await _send(self.engine, batch.docs + moved, batch.gone)
                await _consume(session, batch, moved, [r.id for r in rows])
        if self.db.is_sqlite:
            # One writer at a time: index outside the write lock, then write pages, delete rows.
            await _send(self.engine, batch.docs + moved, batch.gone)
            async with self.db.transaction() as session:
                await _consume(session, batch, moved, [r.id for r in rows])
        await self._announce(changed)
        return len(rows)

    async def _announce(self, product_ids: set[int]) -> None:
        """Tell every process the pages changed (their writers may not have: a CLI import)."""
        if self.events is None:
            return
        try:
            await announce_product_changes(self.events, product_ids)
        except Exception as exc:  # the pages are written; caches expire on their own
            log.warning("product change notice not sent: %s", exc)

    async def drain(self) -> int:
        """Index every pending change; return how many outbox rows it consumed."""
        total = 0
        while consumed := await self.drain_once():
            total += consumed
        return total

    async def run_forever(self, interval: float = 0.5) -> None:
        """Drain continually; an engine outage is logged and retried, never fatal."""
        while True:
            try:
                await self.drain()
            except SearchError as exc:
                log.warning("search index update postponed: %s", exc)
                await asyncio.sleep(min(interval * 10, 5))
            except Exception:
                log.exception("search indexer failed; retrying")
                await asyncio.sleep(min(interval * 10, 5))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass


async def reindex_all(
    db: Database,
    engine: SearchEngine,
    currency: str,
    *,
    batch: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the index and the product pages from the database; return how many it holds.

    Pages are rewritten batch by batch (a reader meanwhile sees the old or the new page of a
    product, both true up to the outbox rows still pending for it, which reads honour).
    """
    await engine.ensure_ready()
    async with db.transaction(write=False) as session:
        total = (await session.execute(select(func.count(Product.id)))).scalar_one()
        # Changes noted before now are covered by this rebuild.
        high_water = (await session.execute(select(func.max(OutboxEvent.id)))).scalar_one()
    await engine.clear()
    done = indexed = 0
    last_id = 0
    while True:
        async with db.transaction(write=False) as session:
            ids = list(
                (
                    await session.execute(
                        select(Product.id)
                        .where(Product.id > last_id)
                        .order_by(Product.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            if not ids:
                break
            built = await index_batch(session, ids, currency)
        await engine.index(built.docs)
        async with db.transaction() as session:
            await _store_pages(session, built)
        last_id = ids[-1]
        done += len(ids)
        indexed += len(built.docs)
        if on_progress:
            on_progress(done, total)
    async with db.transaction() as session:
        await rebuild_alternatives(session)
    if high_water is not None:
        async with db.transaction() as session:
            await session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.topic.in_(INDEXED_TOPICS), OutboxEvent.id <= high_water
                )
            )
    return indexed


async def keep_index_current(
    db: Database,
    engine: SearchEngine,
    currency: str,
    *,
    interval: float = 0.5,
    events: Broker | None = None,
) -> None:
    """Build the index when it is empty (first start), then follow the outbox for ever.

    With ``events``, each drained batch is announced on the products topic, so every
    process's page cache follows changes made where nobody announced them (CLI imports).
    """
    indexer = Indexer(db, engine, currency, events=events)
    while True:
        try:
            await engine.ensure_ready()
            if await engine.count() == 0:
                async with db.transaction(write=False) as session:
                    has_products = (await session.execute(select(Product.id).limit(1))).first()
                if has_products:
                    log.info("search index is empty: building it from the database")
                    indexed = await reindex_all(db, engine, currency)
                    log.info("search index built: %d products", indexed)
            break
        except SearchError as exc:
            log.warning("search engine not ready (%s); retrying", exc)
            await asyncio.sleep(5)
    await indexer.run_forever(interval)


def indexer_lock_path(engine: SearchEngine) -> Path | None:
    """Return the lock file electing the one writer of an embedded index; None for others.

    The lock sits beside the index directory (``data/search.indexer.lock`` by default), not
    in it, so rebuilding the index's files never touches it.
    """
    if isinstance(engine, EmbeddedEngine):
        return engine.path.parent / f"{engine.path.name}.indexer.lock"
    return None


async def lead_indexing(
    db: Database,
    engine: SearchEngine,
    currency: str,
    *,
    interval: float = 0.5,
    retry: float = 1.0,
    events: Broker | None = None,
) -> None:
    """Keep the index current from the one process that may write it; the others wait.

    With the embedded engine, the process holding the index's lock runs
    ``keep_index_current``; every other one tries again each ``retry`` seconds and takes
    over when the holder exits (the OS releases a dead process's lock). Meilisearch takes
    several writers, so there every process indexes.
    """
    path = indexer_lock_path(engine)
    if path is None:
        await keep_index_current(db, engine, currency, interval=interval, events=events)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False, fallback_to_soft=False)
    waiting_said = False
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            if not waiting_said:
                log.info("another process writes the search index; this one reads it")
                waiting_said = True
        await asyncio.sleep(retry)
    try:
        log.info("this process writes the search index (lock %s)", path)
        await keep_index_current(db, engine, currency, interval=interval, events=events)
    finally:
        lock.release()
