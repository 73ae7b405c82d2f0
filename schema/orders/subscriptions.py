"""Live orders: ``orderUpdated`` sends the order now and after every committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.context import context_of
from schema.ids import decode_id
from schema.orders.types import Order
from server import orders
from server.errors import NotFound
from server.events import order_topic


@strawberry.type
class OrderSubscription:
    @strawberry.subscription(
        description=(
            "The order as it is now, then again after every committed change (ready, "
            "collected …); quick changes may arrive as one, never older than one shown. "
            "Authorised like `order(id)`, with the connection_init payload's `authorization` "
            "and `cartToken`: its customer, the guest holding the token of the cart that placed "
            "it, or staff of its store. Ends with NOT_FOUND for anyone else."
        )
    )
    async def order_updated(
        self,
        info: Info,
        order_id: Annotated[strawberry.ID, strawberry.argument(description="The order to follow.")],
    ) -> AsyncGenerator[Order, None]:
        ctx = context_of(info)
        pk = decode_id(order_id, "Order", field="orderId")
        # Listen before the first read, so a change committed in between is not missed.
        async with ctx.runtime.events.subscribe(order_topic(pk)) as notices:
            shown = 0
            while True:
                async with ctx.delivery() as session:
                    viewer = await ctx.viewer()
                    order = await orders.order_for_viewer(session, viewer, pk)
                    if order is None:
                        raise NotFound("There is no such order.", field="orderId")
                    if order.version > shown:
                        shown = order.version
                        yield Order.from_model(order)
                async for notice in notices:
                    if int(notice.get("version", 0)) > shown:
                        break
