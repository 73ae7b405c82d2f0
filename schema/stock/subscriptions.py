"""Live products: `productUpdated` sends a product now and after each committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from schema.catalog import Product
from schema.context import context_of
from schema.ids import decode_id
from schema.live import follow_notices
from server import catalog
from server.errors import NotFound
from server.events import PRODUCTS_TOPIC
from server.gtin import parse_gtin


@strawberry.type
class StockSubscription:
    @strawberry.subscription(
        description=(
            "A product as it is now, then again after every committed change of its price, "
            "campaign or stock. Quick changes arrive as one (the newest state). `storeId` is "
            "the shopper's store: `availability` without a storeId of its own shows it as "
            "`here`. An unknown barcode ends it with NOT_FOUND."
        )
    )
    async def product_updated(
        self,
        info: Info,
        gtin: Annotated[str, strawberry.argument(description="The barcode, any printed form.")],
        store_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The shopper's store.")
        ] = None,
    ) -> AsyncGenerator[Product, None]:
        ctx = context_of(info)
        code = parse_gtin(gtin)
        here = decode_id(store_id, "Store", field="storeId") if store_id else None
        product_id: int | None = None

        async def read() -> Product | None:
            nonlocal product_id
            row = await catalog.product_by_gtin(await ctx.session(), code)
            if row is None or (product_id is not None and row.id != product_id):
                return None
            product_id = row.id
            page = await Product.load(info, row)
            page.here_store_id = here
            return page

        def concerns(notice: dict[str, Any]) -> bool:
            return product_id in (notice.get("productIds") or ())

        missing = NotFound("No product has this barcode.", field="gtin")
        async with aclosing(follow_notices(ctx, PRODUCTS_TOPIC, concerns, read, missing)) as pages:
            async for page in pages:
                yield page
