"""The one interface every search engine implements, its request/response types and its errors.

::

    SearchError                  anything the search package raises on purpose
    ├── SearchEngineUnavailable  the engine cannot be reached or opened (server: SearchUnavailable)
    ├── SearchEngineError        the engine answered with a failure (bad settings, failed task)
    └── QueryTooLong             the query text is longer than MAX_QUERY_CHARS (also a ValueError)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from search.documents import ProductDocument

SortOrder = Literal["relevance", "price_asc", "price_desc", "name"]
FacetName = Literal["brand", "category"]

MAX_QUERY_CHARS = 200
MAX_PAGE_SIZE = 1000
# Hits past this offset are out of reach on both engines (Meilisearch's ``max_total_hits``);
# the embedded engine would otherwise size its top-hits heap by the offset, and abort at 2**31.
MAX_OFFSET = 100_000


class SearchError(Exception):
    """Base of every error the search package raises on purpose."""


class SearchEngineUnavailable(SearchError):
    """The engine cannot answer right now (down, unreachable, closed, index not openable)."""


class SearchEngineError(SearchError):
    """The engine answered but reported a failure, e.g. a settings task that failed."""


class QueryTooLong(SearchError, ValueError):
    """The query text is longer than the engines accept."""

    def __init__(self, length: int, limit: int = MAX_QUERY_CHARS) -> None:
        super().__init__(
            f"The search query is {length} characters long; at most {limit} are allowed."
        )
        self.length = length
        self.limit = limit


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search: free text, filters (AND between kinds, OR within a list), sort, page, facets."""

    query: str = ""
    categories: Sequence[str] = ()
    brands: Sequence[str] = ()
    price_min: int | None = None
    price_max: int | None = None
    in_stock_at: int | None = None
    sort: SortOrder = "relevance"
    offset: int = 0
    limit: int = 20
    facets: Sequence[FacetName] = ("brand", "category")

    def __post_init__(self) -> None:
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"offset must be between 0 and {MAX_OFFSET}, got {self.offset}")
        if not 0 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 0 and {MAX_PAGE_SIZE}, got {self.limit}")
        if self.sort not in get_args(SortOrder):
            raise ValueError(f"sort must be one of {get_args(SortOrder)}, got {self.sort!r}")
        unknown = [name for name in self.facets if name not in get_args(FacetName)]
        if unknown:
            raise ValueError(f"facets must be among {get_args(FacetName)}, got {unknown}")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching product: its id and its name with matched words in ``<mark>`` (HTML-escaped)."""

    id: int
    highlight: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResponse:
    """One page of hits, the exact number of matches and facet counts over all matches."""

    hits: list[SearchHit]
    total: int
    #: ``{"brand": [(value, count), …], "category": […]}``, most frequent first, then by value.
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    processing_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class EngineHealth:
    """Whether the engine answers, which engine it is, and how many documents it holds."""

    ok: bool
    engine: str
    detail: str = ""
    documents: int | None = None


class SearchEngine(Protocol):
    """What the server needs from a search engine; both engines pass one contract test suite."""

    async def ensure_ready(self) -> None:
        """Create the index if missing and apply the index settings from code."""
        ...

    async def index(self, docs: Sequence[ProductDocument]) -> None:
        """Add or replace ``docs`` (by id); they are searchable when this returns."""
        ...

    async def delete(self, ids: Iterable[int]) -> None:
        """Remove the products with these ids; unknown ids are ignored."""
        ...

    async def clear(self) -> None:
        """Remove every document (a full reindex follows)."""
        ...

    async def search(self, req: SearchRequest) -> SearchResponse:
        """Answer one search request; raise SearchEngineUnavailable when the engine is down."""
        ...

    async def similar(self, doc: ProductDocument, *, store_id: int | None, limit: int) -> list[int]:
        """Return ids of alternatives to ``doc``, best first (see ``rank_alternatives``)."""
        ...

    async def get(self, id: int) -> ProductDocument | None:
        """Return the stored document with this id, or None."""
        ...

    async def count(self) -> int:
        """Return the number of documents in the index."""
        ...

    async def health(self) -> EngineHealth:
        """Report whether the engine answers; never raises."""
        ...

    async def close(self) -> None:
        """Release connections, writers and threads."""
        ...
