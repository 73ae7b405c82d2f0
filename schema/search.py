"""Search and alternatives: the GraphQL face of the search engine, hydrated from the database."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.catalog import Product
from schema.context import context_of
from schema.ids import decode_id
from schema.paging import PageInfo, decode_cursor, encode_cursor
from search import SearchResponse
from server import searching


@strawberry.input(description="Narrow a search down.")
class SearchFilter:
    categories: list[str] | None = strawberry.field(
        default=None, description="Any of these categories."
    )
    brands: list[str] | None = strawberry.field(default=None, description="Any of these brands.")
    price_min: int | None = strawberry.field(default=None, description="Lowest price, minor units.")
    price_max: int | None = strawberry.field(
        default=None, description="Highest price, minor units."
    )
    in_stock_at: strawberry.ID | None = strawberry.field(
        default=None, description="Only products available in this store."
    )


@strawberry.enum(description="Order of search hits.")
class SearchSort(Enum):
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NAME = "name"


@strawberry.type(description="One search hit.")
class SearchEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this hit.")
    node: Product = strawberry.field(description="The product.")
    highlight: str | None = strawberry.field(
        description="The name with matched words in <mark>…</mark>, HTML-escaped otherwise."
    )


@strawberry.type(description="A count of hits per value of one field.")
class FacetValue:
    value: str = strawberry.field(description="The brand or category.")
    count: int = strawberry.field(description="Hits with it.")


@strawberry.type(description="Hit counts for one field: `brand` or `category`.")
class Facet:
    name: str = strawberry.field(description="`brand` or `category`.")
    values: list[FacetValue] = strawberry.field(description="Values, most hits first.")


@strawberry.type(description="A page of search hits with facets.")
class SearchResult:
    total_count: int = strawberry.field(description="Hits in all.")
    edges: list[SearchEdge] = strawberry.field(description="This page's hits.")
    page_info: PageInfo = strawberry.field(description="Paging.")
    facets: list[Facet] = strawberry.field(description="Counts per brand and category.")
    processing_time_ms: int = strawberry.field(description="Time the engine took.")


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description="Products by name, brand, category or barcode (typos and prefixes allowed)."
    )
    async def search(
        self,
        info: Info,
        query: Annotated[str, strawberry.argument(description="What the shopper typed.")],
        filter: Annotated[
            SearchFilter | None, strawberry.argument(description="Narrow the hits.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Hits per page (1–100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
        sort: Annotated[
            SearchSort, strawberry.argument(description="Order.")
        ] = SearchSort.RELEVANCE,
    ) -> SearchResult:
        ctx = context_of(info)
        offset = decode_cursor("offset", after) + 1 if after else 0
        f = filter or SearchFilter()
        in_stock_at = (
            decode_id(f.in_stock_at, "Store", field="filter.inStockAt") if f.in_stock_at else None
        )
        wanted = searching.ProductQuery(
            text=query,
            categories=tuple(f.categories or ()),
            brands=tuple(f.brands or ()),
            price_min=f.price_min,
            price_max=f.price_max,
            in_stock_at=in_stock_at,
            sort=sort.value,  # type: ignore[arg-type]
            offset=offset,
            first=first,
        )
        response = await searching.search_products(ctx.runtime.search, wanted)
        edges = await _edges(info, response, offset)
        return SearchResult(
            total_count=response.total,
            edges=edges,
            page_info=PageInfo.of(
                [edge.cursor for edge in edges],
                has_next=searching.has_more(wanted, response),
                has_previous=offset > 0,
            ),
            facets=[
                Facet(name=name, values=[FacetValue(value=v, count=c) for v, c in values])
                for name, values in response.facets.items()
            ],
            processing_time_ms=response.processing_time_ms,
        )


async def _edges(info: Info, response: SearchResponse, offset: int) -> list[SearchEdge]:
    """Return the hits' edges: products from the read model with live stock, one statement
    for the page of hits; a product the index still holds but that is gone is skipped."""
    nodes = await asyncio.gather(
        *(Product.by_id(info, hit.id, active_only=True) for hit in response.hits)
    )
    return [
        SearchEdge(
            cursor=encode_cursor("offset", offset + position),
            node=node,
            highlight=hit.highlight,
        )
        for position, (hit, node) in enumerate(zip(response.hits, nodes, strict=True))
        if node is not None
    ]
