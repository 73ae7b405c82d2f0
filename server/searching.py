"""The search service: product search and alternatives, with the engine's failures made typed.

The database stays the truth: this module asks the engine (``search``) for ids and leaves
hydrating them from the database to the caller. How engine failures reach callers:

* a query longer than the engines accept is ``InvalidInput`` on ``query``; any other
  request the engines refuse (a bad offset, sort or page size) is ``InvalidInput``;
* an engine that cannot be reached is ``SearchUnavailable`` (barcode lookup and scans do
  not need it and still work); an engine that answers with a failure is
  ``SearchUnavailable`` too, logged as an error since it is ours to fix;
* alternatives are a nicety of the product page: any engine failure gives none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from search import (
    ProductDocument,
    QueryTooLong,
    SearchEngine,
    SearchEngineUnavailable,
    SearchError,
    SearchRequest,
    SearchResponse,
)
from search.alternatives import MAX_ALTERNATIVES
from search.engine import MAX_OFFSET, SortOrder
from server.catalog import StockFigure
from server.errors import InvalidInput, SearchUnavailable
from server.indexing import build_document, page_document
from server.models import Product
from server.pricing import PriceInfo
from server.product_pages import PageRead

log = logging.getLogger("omnicart.search")
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class ProductQuery:
    """What a shopper searches for: text, filters (AND between kinds, OR within), order, page."""

    text: str
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    price_min: int | None = None
    price_max: int | None = None
    in_stock_at: int | None = None
    sort: SortOrder = "relevance"
    offset: int = 0
    first: int = 20


def has_more(query: ProductQuery, response: SearchResponse) -> bool:
    """Tell whether hits follow this page (search reaches the first MAX_OFFSET + 1 hits only)."""
    return query.offset + len(response.hits) < min(response.total, MAX_OFFSET + 1)


async def search_products(engine: SearchEngine, query: ProductQuery) -> SearchResponse:
    """Return one page of hits for ``query``; raise InvalidInput or SearchUnavailable."""
    if not 1 <= query.first <= MAX_PAGE:
        raise InvalidInput(f"Ask for 1 to {MAX_PAGE} hits at a time.", field="first")
    if query.offset > MAX_OFFSET:
        raise InvalidInput(f"Search reaches the first {MAX_OFFSET} hits only.", field="after")
    try:
        request = SearchRequest(
            query=query.text,
            categories=query.categories,
            brands=query.brands,
            price_min=query.price_min,
            price_max=query.price_max,
            in_stock_at=query.in_stock_at,
            sort=query.sort,
            offset=query.offset,
            limit=query.first,
        )
        return await engine.search(request)
    except QueryTooLong as exc:
        raise InvalidInput(str(exc), field="query") from exc
    except SearchEngineUnavailable as exc:
        log.warning("search unavailable: %s", exc)
        raise SearchUnavailable(
            "Search is unavailable right now; scanning and barcode lookup still work."
        ) from exc
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    except SearchError as exc:
        log.error("search failed: %s", exc)
        raise SearchUnavailable("Search failed; please try again.") from exc


async def alternatives_for(
    engine: SearchEngine,
    product: Product,
    *,
    gtins: Sequence[str],
    price: PriceInfo | None,
    stock: Sequence[StockFigure],
    currency: str,
    store_id: int | None,
    first: int,
) -> list[int]:
    """Return ids of products to offer instead of ``product``: same category, in stock here first.

    ``gtins``, ``price`` and ``stock`` are the product's own, as its search document holds
    them. The ids may name products deleted or deactivated since they were indexed, and
    the product itself; an engine failure gives none.
    """
    doc = build_document(product, gtins, price, stock, currency)
    return await _similar(engine, doc, store_id, first)


async def alternatives_of_page(
    engine: SearchEngine, read: PageRead, *, store_id: int | None, first: int
) -> list[int]:
    """Return ids of products to offer instead of a scanned page's product (as above)."""
    stock = [StockFigure(0, view.id, False, available, 0) for view, available in read.stores] + [
        StockFigure(0, None, True, read.online, 0)
    ]
    return await _similar(engine, page_document(read.page, stock), store_id, first)


def check_alternatives_asked(first: int) -> None:
    """Raise InvalidInput on ``first`` unless it asks for 0 to MAX_ALTERNATIVES."""
    if not 0 <= first <= MAX_ALTERNATIVES:
        raise InvalidInput(f"Ask for 0 to {MAX_ALTERNATIVES} alternatives.", field="first")


async def _similar(
    engine: SearchEngine, doc: ProductDocument, store_id: int | None, first: int
) -> list[int]:
    check_alternatives_asked(first)
    if first == 0:
        return []
    try:
        return list(await engine.similar(doc, store_id=store_id, limit=first))
    except SearchError as exc:
        log.warning("alternatives unavailable: %s", exc)
        return []
