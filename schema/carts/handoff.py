"""Kiosk handoff over GraphQL: the phone asks for a code, a kiosk or staff device claims it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.mutations import CartPayload
from schema.catalog import Store
from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.live import follow_notices
from schema.mutations import Call, run_mutation
from schema.writes import COUNTS_ATTEMPTS
from server import carts
from server.carts.routes import handoff_barcode_url, handoff_qr_url
from server.errors import AppError, NotFound
from server.models import utcnow


@strawberry.input(description="The cart to hand over to a kiosk.")
class CartHandoffCreateInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart; you must hold or own it.")


@strawberry.input(description="A code a shopper's phone shows.")
class CartHandoffClaimInput:
    code: str = strawberry.field(
        description="The code as shown, typed or scanned; case, spaces and dashes do not matter."
    )


@strawberry.type(description="A single-use code that lets one kiosk pick the cart up.")
class CartHandoffPayload:
    code: str | None = strawberry.field(
        description="Show it (e.g. `K7QM-3XPA`); 8 characters without 0, 1, I, L, O or U."
    )
    expires_at: datetime | None = strawberry.field(description="After this it no longer works.")
    barcode_url: str | None = strawberry.field(
        description="The code as a Code 128 image (SVG; `.png` also served); never cached."
    )
    qr_url: str | None = strawberry.field(
        description="The code as a QR image (SVG; `qr.png` also served); never cached."
    )
    errors: list[UserError] = strawberry.field(
        description="Why there is no code, if there is none."
    )

    @classmethod
    def failed(cls, error: AppError) -> CartHandoffPayload:
        """Build the payload of a refused handoff."""
        return cls(
            code=None,
            expires_at=None,
            barcode_url=None,
            qr_url=None,
            errors=[UserError.from_error(error)],
        )

    @classmethod
    def of(cls, issued: carts.HandoffCode) -> CartHandoffPayload:
        """Build the payload of a code just issued."""
        return cls(
            code=issued.display,
            expires_at=issued.expires_at,
            barcode_url=handoff_barcode_url(issued.code),
            qr_url=handoff_qr_url(issued.code),
            errors=[],
        )


@strawberry.type(description="The newest handoff code of a cart, as its phone follows it.")
class CartHandoffStatus:
    expires_at: datetime = strawberry.field(description="After this the code no longer works.")
    claimed_at: datetime | None = strawberry.field(
        description="When a kiosk or staff device picked the cart up with it; null until then."
    )
    claimed_at_store: Store | None = strawberry.field(
        description="The store of the device that claimed it; null until claimed."
    )


@strawberry.type
class HandoffSubscription:
    @strawberry.subscription(
        description=(
            "The cart's newest handoff code now, then again when a kiosk or staff device "
            "claims it (`claimedAt` set): the phone showing the code stops its countdown. "
            "Authorised like `cart(id)` for the cart's holder (token or customer); ends with "
            "NOT_FOUND when the cart has no code or is out of reach."
        )
    )
    async def cart_handoff_updated(
        self,
        info: Info,
        cart_id: Annotated[strawberry.ID, strawberry.argument(description="The cart.")],
    ) -> AsyncGenerator[CartHandoffStatus, None]:
        ctx = context_of(info)
        pk = decode_id(cart_id, "Cart", field="cartId")

        async def read() -> carts.HandoffStatus | None:
            return await carts.handoff_status(await ctx.session(), await ctx.viewer(), pk, utcnow())

        missing = NotFound("This cart has no handoff code.", field="cartId")
        async with aclosing(
            follow_notices(ctx, carts.handoff_topic(pk), lambda _: True, read, missing)
        ) as statuses:
            async for status in statuses:
                store = None
                if status.claimed_at_store_id is not None:
                    row = await ctx.loaders.store.load(status.claimed_at_store_id)
                    store = Store.from_model(row) if row else None
                yield CartHandoffStatus(
                    expires_at=status.expires_at,
                    claimed_at=status.claimed_at,
                    claimed_at_store=store,
                )


@strawberry.type
class HandoffMutation:
    @strawberry.mutation(
        description=(
            "Issue a code for a kiosk to pick the cart up, valid 10 minutes, once; it replaces "
            "any earlier code of the cart."
        )
    )
    async def cart_handoff_create(
        self,
        info: Info,
        input: Annotated[CartHandoffCreateInput, strawberry.argument(description="The cart.")],
    ) -> CartHandoffPayload:
        ctx = context_of(info)
        return await run_mutation(
            info,
            CartHandoffPayload,
            lambda call: carts.create_handoff(
                call.session,
                call.viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                secret_key=ctx.runtime.secret_key,
                lifetime=timedelta(minutes=call.settings.handoff_minutes),
                now=call.now,
            ),
            CartHandoffPayload.of,
        )

    @strawberry.mutation(
        description=(
            "Kiosk or staff device only: pick up the cart behind a code for 30 minutes. Wrong, "
            "expired and used codes answer CODE_EXPIRED; repeated failures RATE_LIMITED."
        ),
        metadata=COUNTS_ATTEMPTS,
    )
    async def cart_handoff_claim(
        self,
        info: Info,
        input: Annotated[CartHandoffClaimInput, strawberry.argument(description="The code.")],
    ) -> CartPayload:
        ctx = context_of(info)

        async def claim(call: Call) -> carts.CartView:
            # The wrong code counted by ``attempts`` stays counted through the savepoint's
            # rollback (see schema.mutations).
            return await carts.claim_handoff(
                call.session,
                call.viewer,
                input.code,
                client_address=ctx.client_address,
                secret_key=ctx.runtime.secret_key,
                claim_lifetime=timedelta(minutes=call.settings.claim_minutes),
                attempts=await call.attempts(),
                now=call.now,
            )

        def claimed(cart: carts.CartView) -> CartPayload:
            topic = carts.handoff_topic(cart.id)

            async def publish() -> None:
                # No version: every claim is news (the phone showing the code stops its clock).
                ctx.runtime.publisher.post(topic, {"cartId": cart.id, "claimed": True})

            ctx.after_commit(publish)
            return CartPayload.of(cart)

        return await run_mutation(info, CartPayload, claim, claimed)
