"""Live carts: ``cartUpdated`` sends the cart now and after every committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.types import Cart
from schema.context import context_of
from schema.ids import decode_id
from server import carts
from server.errors import NotFound
from server.events import cart_topic
from server.models import utcnow


@strawberry.type
class CartSubscription:
    @strawberry.subscription(
        description=(
            "The cart as it is now, then again after every committed change. Quick changes "
            "may arrive as one (always the newest version, never an older one). Authorised "
            "like `cart(id)` with the connection_init payload's `authorization` and "
            "`cartToken`; ends with NOT_FOUND once the cart is out of your reach (merged at "
            "sign-in, claim expired, signed out)."
        )
    )
    async def cart_updated(
        self,
        info: Info,
        cart_id: Annotated[strawberry.ID, strawberry.argument(description="The cart to follow.")],
    ) -> AsyncGenerator[Cart, None]:
        ctx = context_of(info)
        pk = decode_id(cart_id, "Cart", field="cartId")
        # Listen before the first read, so a change committed in between is not missed.
        async with ctx.runtime.events.subscribe(cart_topic(pk)) as notices:
            shown = 0
            while True:
                # One short read transaction per event; the viewer is checked again each time.
                async with ctx.delivery() as session:
                    viewer = await ctx.viewer()
                    cart = await carts.cart_for_viewer(session, viewer, pk, utcnow())
                    if cart is None:
                        raise NotFound("There is no such cart.", field="cartId")
                    if cart.version > shown:
                        shown = cart.version
                        yield Cart.from_model(cart)
                async for notice in notices:
                    # Notices for versions already shown (read with a newer one) are skipped.
                    if int(notice.get("version", 0)) > shown:
                        break
