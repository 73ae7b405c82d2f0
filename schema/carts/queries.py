"""Reading a cart: ``cart(id)`` for whoever may reach it."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.types import Cart
from schema.context import context_of
from schema.ids import decode_id
from server import carts
from server.models import utcnow


async def cart_for(info: Info, pk: int) -> Cart | None:
    """Return the cart if the caller may reach it, else None (as if it did not exist)."""
    ctx = context_of(info)
    viewer = await ctx.viewer()
    session = await ctx.session()
    view = await carts.cart_for_viewer(session, viewer, pk, utcnow())
    return Cart.from_model(view) if view else None


@strawberry.type
class CartQuery:
    @strawberry.field(
        description=(
            "A cart you hold (X-Cart-Token), own (signed in) or were handed (kiosk); null for "
            "any other id, whether or not the cart exists."
        )
    )
    async def cart(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The cart's global id.")],
    ) -> Cart | None:
        return await cart_for(info, decode_id(id, "Cart"))
