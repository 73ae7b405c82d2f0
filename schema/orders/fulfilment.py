"""The kiosk's view of a cart line: on the shelf here, or how to order it."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from schema.catalog import Store
from schema.context import context_of
from schema.ids import decode_id
from server import orders
from server.carts import LineView
from server.states import FulfilmentOption

strawberry.enum(
    FulfilmentOption,
    name="FulfilmentOption",
    description="The best way to get a cart line, seen from one store.",
)


@strawberry.type(
    description=(
        "How a cart line's units can be had, seen from one store: pick them off the shelf "
        "here, or order them (checkout with lineIds) for collection here, at another store, or "
        "for delivery."
    )
)
class LineFulfilment:
    available_here: int = strawberry.field(description="Units available in this store now.")
    on_shelf_here: bool = strawberry.field(
        description="This store has the whole quantity: go and pick it (it stays in the cart)."
    )
    collect_here: bool = strawberry.field(
        description="It can be ordered for collection in this store (reserved for later)."
    )
    delivery: bool = strawberry.field(
        description="The online warehouse has the whole quantity for delivery."
    )
    available_online: int = strawberry.field(description="Units available for delivery now.")
    recommended: FulfilmentOption = strawberry.field(
        description="Shelf here, else delivery, else collection where most is available."
    )
    options: strawberry.Private[orders.LineOptions]

    @strawberry.field(
        description="Other stores with the whole quantity for collection, most available first."
    )
    async def collect_at(self, info: Info) -> list[Store]:
        loaders = context_of(info).loaders
        rows = await loaders.store.load_many(list(self.options.collect_at))
        return [Store.from_model(row) for row in rows if row is not None]


async def line_fulfilment(info: Info[Any, Any], line: LineView, store_id: str) -> LineFulfilment:
    """Return where a cart line can be had, seen from ``store_id`` (a global Store id)."""
    ctx = context_of(info)
    store_pk = decode_id(store_id, "Store", field="storeId")
    figures = await ctx.loaders.stock.load(line.product_id) or []
    options = orders.line_options(figures, line.quantity, store_pk)
    return LineFulfilment(
        available_here=options.available_here,
        on_shelf_here=options.on_shelf_here,
        collect_here=options.collect_here,
        delivery=options.delivery,
        available_online=options.available_online,
        recommended=options.recommended,
        options=options,
    )
