"""The shop front's fields: a store's campaign offers and the categories to browse."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.catalog import Product
from schema.context import context_of
from schema.ids import decode_id
from schema.paging import PageInfo, decode_cursor, encode_cursor
from server import shop_front
from server.errors import InvalidInput


@strawberry.type(description="One product of a list, with its cursor.")
class ProductEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this product.")
    node: Product = strawberry.field(description="The product.")


@strawberry.type(description="A page of products.")
class ProductConnection:
    edges: list[ProductEdge] = strawberry.field(description="This page's products.")
    page_info: PageInfo = strawberry.field(description="Paging.")


@strawberry.type(description="A category to browse and how many products it holds.")
class CategoryCount:
    name: str = strawberry.field(
        description="The category label, as in `Product.categories` and `SearchFilter.categories`."
    )
    product_count: int = strawberry.field(
        description="Products whose category path holds it: the hits a search filtered by it finds."
    )


def _page_size(first: int) -> int:
    if not 0 <= first <= shop_front.MAX_PAGE:
        raise InvalidInput(f"first must be 0 to {shop_front.MAX_PAGE}.", field="first")
    return first


@strawberry.type
class FrontQuery:
    @strawberry.field(
        description=(
            "Products on a campaign running now that the store has available, by name: the "
            "shop front's offers. Each product's `price` names the campaign (a members' "
            "campaign shows as `price.member` to others)."
        )
    )
    async def campaign_products(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, strawberry.argument(description="The store.")],
        first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
    ) -> ProductConnection:
        ctx = context_of(info)
        store = decode_id(store_id, "Store", field="storeId")
        offset = decode_cursor("offset", after) + 1 if after else 0
        page = await shop_front.campaign_products(
            await ctx.session(),
            store,
            ctx.settings.currency,
            offset=offset,
            limit=_page_size(first),
        )
        rows = await asyncio.gather(*(ctx.loaders.product.load(i) for i in page.ids))
        found = [row for row in rows if row is not None]
        nodes = await asyncio.gather(*(Product.load(info, row) for row in found))
        edges = [
            ProductEdge(cursor=encode_cursor("offset", offset + n), node=node)
            for n, node in enumerate(nodes)
        ]
        return ProductConnection(
            edges=edges,
            page_info=PageInfo.of(
                [e.cursor for e in edges], has_next=page.has_next, has_previous=offset > 0
            ),
        )

    @strawberry.field(
        description=(
            "Categories to browse: the labels that open a category path, or follow `parent` in "
            "one, most products first. Counts use the search filter's rule (a product counts "
            "when its path holds the label, and `parent`)."
        )
    )
    async def categories(
        self,
        info: Info,
        parent: Annotated[
            str | None,
            strawberry.argument(description="The category above; null for the top level."),
        ] = None,
        in_stock_at: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Count only products available in this store."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 30,
    ) -> list[CategoryCount]:
        ctx = context_of(info)
        store = decode_id(in_stock_at, "Store", field="inStockAt") if in_stock_at else None
        counts = await shop_front.category_counts(
            await ctx.session(), parent=parent, in_stock_at=store, limit=_page_size(first)
        )
        return [CategoryCount(name=c.name, product_count=c.products) for c in counts]
