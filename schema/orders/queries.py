"""Reading orders: one by id or number, the shopper's own, and a store's for its staff."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from schema.catalog import Node
from schema.context import context_of
from schema.ids import decode_id
from schema.node import node_resolver
from schema.orders.types import (
    FulfilmentMethod,
    Order,
    OrderConnection,
    OrderStatus,
    decode_cursor,
)
from server import orders

FIRST = "How many orders (0 to 100)."
AFTER = "The cursor of the order to continue after."


async def order_for(info: Info[Any, Any], pk: int) -> Order | None:
    """Return the order if the caller may see it, else None (as if it did not exist)."""
    ctx = context_of(info)
    viewer = await ctx.viewer()
    session = await ctx.session()
    view = await orders.order_for_viewer(session, viewer, pk)
    return Order.from_model(view) if view else None


@node_resolver("Order")
async def _order_node(info: Info[Any, Any], pk: int) -> Node | None:
    return await order_for(info, pk)


@strawberry.type
class OrderQuery:
    @strawberry.field(
        description=(
            "An order you placed (signed in, or with the cart token of the cart that placed it), "
            "or one your store handles (staff); null for any other id."
        )
    )
    async def order(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order's global id.")],
    ) -> Order | None:
        return await order_for(info, decode_id(id, "Order"))

    @strawberry.field(
        description=(
            "The order with this number, typed with or without dashes, if you may see it; null "
            "for unknown and mistyped numbers (the check digit catches most typos)."
        )
    )
    async def order_by_number(
        self,
        info: Info,
        number: Annotated[str, strawberry.argument(description="e.g. `OC-26-000123-4`.")],
    ) -> Order | None:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        session = await ctx.session()
        view = await orders.order_by_number_for_viewer(session, viewer, number)
        return Order.from_model(view) if view else None

    @strawberry.field(
        description=(
            "The orders you placed, newest first: a signed-in customer's, or a guest's with the "
            "cart token of the cart that placed them. Empty for anyone else."
        )
    )
    async def orders(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> OrderConnection:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        session = await ctx.session()
        page = await orders.shopper_orders(
            session, viewer, before_id=decode_cursor(after), first=first
        )
        return OrderConnection.from_page(page, after)

    @strawberry.field(
        description=(
            "Staff: a store's orders, newest first: those collected there and those placed there "
            "(at its kiosk, delivery orders included). Store staff see their own store (storeId "
            "may be left out); admins any store, or every order without storeId."
        )
    )
    async def store_orders(
        self,
        info: Info,
        store_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The store.")
        ] = None,
        status: Annotated[
            list[OrderStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
        fulfilment: Annotated[
            FulfilmentMethod | None, strawberry.argument(description="Only this fulfilment.")
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> OrderConnection:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        session = await ctx.session()
        page = await orders.store_orders(
            session,
            viewer,
            store_id=decode_id(store_id, "Store", field="storeId") if store_id else None,
            statuses=[s.value for s in status or []],
            fulfilment=fulfilment.value if fulfilment else None,
            before_id=decode_cursor(after),
            first=first,
        )
        return OrderConnection.from_page(page, after)
