"""What the Meilisearch engine sends: index settings, documents, filters, pages; error mapping.

Documents carry the original fields (for ``get`` and alternatives) plus the fields searched
and filtered on, all computed by the same Python functions the embedded engine uses:

* ``search_*``: folded words (``search.documents.index_words``), so Meilisearch sees "smor"
  for "Smør" whatever language it detects (its Swedish normaliser keeps å ä ö apart);
  queries are folded the same way before sending;
* ``brand_key`` / ``category_keys``: folded labels for filters;
* ``barcode_prefixes``: every 4+ digit prefix of every printed barcode. Barcode queries are
  filters (exact forms first, then prefixes), never text matching, so they are never fuzzy
  and not cut short by Meilisearch's limit on prefix derivations;
* ``name_sort``: the folded name for ``sort="name"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from meilisearch_python_sdk.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.settings import (
    Faceting,
    MeilisearchSettings,
    MinWordSizeForTypos,
    Pagination,
    TypoTolerance,
)

from search.documents import ProductDocument, folded_key, index_words, name_sort_key
from search.engine import SearchEngineError, SearchEngineUnavailable, SearchRequest
from search.query import MAX_FACET_VALUES, ONE_TYPO_FROM, TWO_TYPOS_FROM, barcode_prefixes

DOC_FIELDS = [
    "id",
    "name",
    "brand",
    "categories",
    "description",
    "barcodes",
    "price",
    "currency",
    "in_stock_at",
    "in_stock_online",
    "quantity",
    "image_url",
]
#: Searched by text queries, in ranking order (the "attribute" rule).
TEXT_ATTRIBUTES = ["search_name", "search_brand", "search_categories", "search_description"]
FACET_ATTRIBUTES = {"brand": "brand", "category": "categories"}
SORTS: dict[str, list[str]] = {
    "relevance": ["id:asc"],
    "price_asc": ["price:asc", "id:asc"],
    "price_desc": ["price:desc", "id:asc"],
    "name": ["name_sort:asc", "id:asc"],
}
INDEX_BATCH = 5_000


def index_settings(max_total_hits: int) -> MeilisearchSettings:
    """Return the index settings applied from code on every ``ensure_ready``."""
    return MeilisearchSettings(
        searchable_attributes=[*TEXT_ATTRIBUTES[:3], "barcodes", TEXT_ATTRIBUTES[3]],
        filterable_attributes=[
            "id",
            "brand",
            "brand_key",
            "categories",
            "category_keys",
            "barcodes",
            "barcode_prefixes",
            "price",
            "in_stock_at",
            "in_stock_online",
        ],
        sortable_attributes=["price", "name_sort", "id"],
        # "sort" first: an explicit sort (price, name) decides; without one the relevance
        # rules decide and "id:asc" breaks ties so pages are stable, as in the embedded engine.
        ranking_rules=["sort", "words", "typo", "proximity", "attribute", "exactness", "id:asc"],
        typo_tolerance=TypoTolerance(
            enabled=True,
            disable_on_attributes=["barcodes"],
            disable_on_numbers=True,
            min_word_size_for_typos=MinWordSizeForTypos(
                one_typo=ONE_TYPO_FROM, two_typos=TWO_TYPOS_FROM
            ),
        ),
        faceting=Faceting(
            max_values_per_facet=MAX_FACET_VALUES, sort_facet_values_by={"*": "count"}
        ),
        pagination=Pagination(max_total_hits=max_total_hits),
    )


def to_meili_document(doc: ProductDocument) -> dict[str, Any]:
    """Return the JSON document Meilisearch stores for ``doc``."""
    data = doc.to_dict()
    data.update(
        search_name=" ".join(index_words(doc.name)),
        search_brand=" ".join(index_words(doc.brand)),
        search_categories=[" ".join(index_words(label)) for label in doc.categories],
        search_description=" ".join(index_words(doc.description)),
        brand_key=folded_key(doc.brand) if doc.brand else None,
        category_keys=[folded_key(label) for label in doc.categories],
        barcode_prefixes=barcode_prefixes(doc.barcodes),
        name_sort=name_sort_key(doc.name),
    )
    return data


def quote(value: str) -> str:
    """Return ``value`` as a Meilisearch filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_expressions(req: SearchRequest) -> list[str]:
    """Return the request's filters as Meilisearch expressions, all of which must hold."""
    expressions: list[str] = []
    if req.categories:
        keys = ", ".join(quote(folded_key(label)) for label in req.categories)
        expressions.append(f"category_keys IN [{keys}]")
    if req.brands:
        keys = ", ".join(quote(folded_key(brand)) for brand in req.brands)
        expressions.append(f"brand_key IN [{keys}]")
    if req.price_min is not None:
        expressions.append(f"price >= {int(req.price_min)}")
    if req.price_max is not None:
        expressions.append(f"price <= {int(req.price_max)}")
    if req.in_stock_at is not None:
        expressions.append(f"in_stock_at = {int(req.in_stock_at)}")
    return expressions


def page_window(offset: int, limit: int) -> tuple[int, int, int]:
    """Return ``(page, hits_per_page, skip)`` fetching hits ``offset…offset+limit`` exhaustively."""
    if limit == 0:
        return 1, 0, 0
    if offset % limit == 0:
        return offset // limit + 1, limit, 0
    return 1, offset + limit, offset


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn SDK and transport errors into SearchEngineUnavailable or SearchEngineError."""
    try:
        yield
    except MeilisearchApiError as error:
        if error.status_code >= 500:
            raise SearchEngineUnavailable(f"Meilisearch failed to {action}: {error}") from error
        raise SearchEngineError(f"Meilisearch refused to {action}: {error}") from error
    except MeilisearchTimeoutError as error:
        raise SearchEngineError(f"Meilisearch did not {action} in time: {error}") from error
    except (MeilisearchCommunicationError, MeilisearchError, httpx2.TransportError) as error:
        raise SearchEngineUnavailable(f"Meilisearch is unreachable ({action}): {error}") from error
    except httpx2.HTTPStatusError as error:
        if error.response.status_code >= 500:
            raise SearchEngineUnavailable(f"Meilisearch failed to {action}: {error}") from error
        raise SearchEngineError(f"Meilisearch refused to {action}: {error}") from error
