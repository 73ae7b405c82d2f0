"""The scan path's front door: product pages from a per-process cache or one read.

``ProductPages.read(gtin)`` answers a scanned barcode with its page (``PageRead``): from this
process's cache when it holds a fresh entry (no statement at all), else with one page read
(``server.page_reads``), else from the catalog tables when a change is still pending.

How the cache stays true:

* every committed change of a product's data, price or stock is announced after commit on
  ``server.events.PRODUCTS_TOPIC`` (GraphQL operations, and the indexer for changes it
  drains from other processes such as ``omnicart import``); every process listens and drops
  those products' entries. The process that made the change drops them before it answers.
* a read that began before an invalidation does not store what it read (an epoch counter),
  so an old read finishing late cannot put stale data back;
* while the listener is not subscribed (starting, broker unreachable) the cache is bypassed
  and emptied, since notices may be missed; entries also expire after
  ``OMNICART_PAGE_CACHE_SECONDS`` whatever happens, the bound should a notice be lost;
* only pages read clean are cached: one with a pending change is read again each time.

So a change made in another process shows once its notice arrives (the broker's delivery
time: the database broker polls every 50 ms; Redis is immediate) and never later than the
cache's expiry; in the process that made it, on the very next read. Campaign windows are
evaluated on every read, cached or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from server.events import PRODUCTS_TOPIC, Broker
from server.gtin import Gtin
from server.models import ProductBarcode
from server.page_reads import Alternative, PageReads, page_reads_for
from server.product_pages import PageRead, read_from_catalog

if TYPE_CHECKING:
    from server.db import Database

log = logging.getLogger("omnicart.pages")
RESUBSCRIBE_SECONDS = 2.0


class PageCache:
    """A bounded LRU of page reads keyed by barcode, dropped by product id."""

    def __init__(self, size: int, seconds: float) -> None:
        self.size = size
        self.seconds = seconds
        self.live = False  # True while invalidation notices are being heard
        self.epoch = 0  # bumped by every invalidation
        self._entries: OrderedDict[str, tuple[PageRead, float]] = OrderedDict()
        self._codes: dict[int, set[str]] = {}

    def get(self, digits: str) -> PageRead | None:
        """Return the fresh entry for a barcode, or None."""
        if not self.live:
            return None
        entry = self._entries.get(digits)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._drop_code(digits)
            return None
        self._entries.move_to_end(digits)
        return entry[0]

    def put(self, digits: str, read: PageRead, epoch: int) -> None:
        """Keep ``read`` unless an invalidation happened since the read began (``epoch``)."""
        if not self.live or epoch != self.epoch or self.seconds <= 0 or self.size <= 0:
            return
        self._entries[digits] = (read, time.monotonic() + self.seconds)
        self._codes.setdefault(read.page.product_id, set()).add(digits)
        while len(self._entries) > self.size:
            oldest = next(iter(self._entries))
            self._drop_code(oldest)

    def forget(self, product_ids: Iterable[int]) -> None:
        """Drop every entry of these products."""
        self.epoch += 1
        for product_id in product_ids:
            for digits in self._codes.pop(product_id, ()):
                self._entries.pop(digits, None)

    def clear(self) -> None:
        """Drop every entry."""
        self.epoch += 1
        self._entries.clear()
        self._codes.clear()

    def _drop_code(self, digits: str) -> None:
        entry = self._entries.pop(digits, None)
        if entry is not None:
            codes = self._codes.get(entry[0].page.product_id)
            if codes is not None:
                codes.discard(digits)
                if not codes:
                    del self._codes[entry[0].page.product_id]


class ProductPages:
    """Product pages for scans: cache, one read, or the catalog when a change is pending."""

    def __init__(
        self,
        db: Database,
        events: Broker,
        currency: str,
        *,
        cache_seconds: float,
        cache_size: int = 20_000,
        reads: PageReads | None = None,
    ) -> None:
        self.db = db
        self.events = events
        self.currency = currency
        self.cache = PageCache(cache_size, cache_seconds)
        self.reads = reads if reads is not None else page_reads_for(db)
        self._listener: asyncio.Task[None] | None = None

    async def read(self, gtin: Gtin) -> PageRead | None:
        """Return the page of the active product carrying ``gtin``, or None when none does."""
        self._ensure_listening()
        digits = gtin.digits
        cached = self.cache.get(digits)
        if cached is not None:
            return cached
        epoch = self.cache.epoch
        found, pending = (None, False) if self.reads is None else await self.reads.read(digits)
        if found is not None:
            self.cache.put(digits, found, epoch)
            return found
        # No page row (a new product, an unknown code) or a change not yet drained.
        return await self._read_from_catalog(digits)

    async def _read_from_catalog(self, digits: str) -> PageRead | None:
        async with self.db.transaction(write=False) as session:
            product_id = (
                await session.execute(
                    select(ProductBarcode.product_id).where(ProductBarcode.gtin == digits)
                )
            ).scalar()
            if product_id is None:
                return None
            return await read_from_catalog(session, product_id, self.currency)

    async def alternatives(
        self, product_id: int, store_id: int | None, first: int
    ) -> list[Alternative] | None:
        """Return a product's alternatives for a store from the read model, best first.

        Never cached: each read orders them by the stock of that moment. None when this
        database has no page reader (in-memory SQLite): ask the search engine instead.
        """
        if self.reads is None:
            return None
        if first <= 0:
            return []
        return await self.reads.alternatives(product_id, store_id, first)

    async def by_ids(self, product_ids: Iterable[int]) -> dict[int, PageRead]:
        """Return the clean pages of these products with live stock, in one statement.

        Not cached (stock is read live). A product with a change pending, without a page, or
        on a database without a page reader is left out: read it from the catalog tables.
        """
        ids = list(product_ids)
        if self.reads is None or not ids:
            return {}
        return await self.reads.by_ids(ids)

    def forget(self, product_ids: Iterable[int]) -> None:
        """Drop these products' cached pages now (the caller committed a change of them)."""
        self.cache.forget(product_ids)

    def _ensure_listening(self) -> None:
        if self.cache.seconds <= 0:
            return
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="product-page-invalidations"
            )

    async def _listen(self) -> None:
        """Hear product-change notices for ever, dropping entries; bypass the cache meanwhile."""
        while True:
            try:
                async with self.events.subscribe(PRODUCTS_TOPIC) as notices:
                    self.cache.clear()
                    self.cache.live = True
                    async for notice in notices:
                        self.cache.forget(int(i) for i in notice.get("productIds", ()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("product change notices unavailable (%s); page cache off", exc)
            finally:
                self.cache.live = False
                self.cache.clear()
            await asyncio.sleep(RESUBSCRIBE_SECONDS)

    async def close(self) -> None:
        """Stop listening and release the readers' connections."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self.reads is not None:
            await self.reads.close()
