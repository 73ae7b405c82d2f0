"""Live carts: ``cartUpdated`` sends the cart now and after every committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.types import Cart
from schema.context import context_of
from schema.ids import decode_id
from schema.live import follow_versions
from server import carts
from server.errors import NotFound
from server.events import cart_topic
from server.models import utcnow
from server.viewer import Viewer


@strawberry.type
class CartSubscription:
    @strawberry.subscription(
        description=(
            "The cart as it is now, then again after every committed change. Quick changes "
            "may arrive as one (always the newest version, never an older one). Authorised "
            "like `cart(id)` with the connection_init payload's `authorization` and "
            "`cartToken`; ends with NOT_FOUND once the cart is out of your reach (merged at "
            "sign-in, claim expired, signed out). While live updates cannot be delivered (the "
            "event broker is down) it still sends the cart as it is, with `liveUpdates: false`, "
            "and sends it again with `liveUpdates: true` once they resume."
        )
    )
    async def cart_updated(
        self,
        info: Info,
        cart_id: Annotated[strawberry.ID, strawberry.argument(description="The cart to follow.")],
    ) -> AsyncGenerator[Cart, None]:
        ctx = context_of(info)
        pk = decode_id(cart_id, "Cart", field="cartId")

        async def read(viewer: Viewer) -> carts.CartView | None:
            return await carts.cart_for_viewer(await ctx.session(), viewer, pk, utcnow())

        missing = NotFound("There is no such cart.", field="cartId")
        async with aclosing(follow_versions(ctx, cart_topic(pk), read, missing)) as versions:
            async for cart, live in versions:
                answer = Cart.from_model(cart)
                answer.live_updates = live
                yield answer
