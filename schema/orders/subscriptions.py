"""Live orders: ``orderUpdated`` sends the order now and after every committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.context import context_of
from schema.ids import decode_id
from schema.live import follow_versions
from schema.orders.types import Order
from server import orders
from server.errors import NotFound
from server.events import order_topic
from server.viewer import Viewer


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

        async def read(viewer: Viewer) -> orders.OrderView | None:
            return await orders.order_for_viewer(await ctx.session(), viewer, pk)

        missing = NotFound("There is no such order.", field="orderId")
        async with aclosing(follow_versions(ctx, order_topic(pk), read, missing)) as versions:
            async for order, _live in versions:
                yield Order.from_model(order)
