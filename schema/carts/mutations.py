"""Cart mutations: create a cart, add, change and remove lines, with versions and retry keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.types import Cart, LineQuantity
from schema.context import Context, context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import in_savepoint
from server import carts
from server.errors import AppError, VersionConflict
from server.events import cart_topic
from server.models import utcnow
from server.viewer import Viewer

EXPECTED_VERSION = (
    "The version the client last saw; if the cart moved on, nothing changes and the payload "
    "answers VERSION_CONFLICT with the current cart."
)
IDEMPOTENCY_KEY = (
    "A key unique to this request (e.g. a UUID), kept a day per cart and operation: a retry "
    "with it answers the first result and changes nothing twice."
)


@strawberry.input(description="Units of a product to add: give gtin or productId, not both.")
class CartLineInput:
    gtin: str | None = strawberry.field(
        default=None, description="The barcode in any printed form (EAN-13, EAN-8, UPC-A …)."
    )
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="The product's global id."
    )
    quantity: LineQuantity = strawberry.field(
        description="Units to add; the line may then hold 1 to 99 (the chain's line limit)."
    )


@strawberry.input(description="A new cart, optionally with its first lines.")
class CartCreateInput:
    lines: list[CartLineInput] = strawberry.field(
        default_factory=list, description="Lines to put in the new cart at once."
    )


@strawberry.input(description="Lines to add to a cart.")
class CartLinesAddInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart.")
    lines: list[CartLineInput] = strawberry.field(description="1 to 100 lines.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="The new quantity of one line.")
class CartLineUpdateInput:
    line_id: strawberry.ID = strawberry.field(description="The line's global id.")
    quantity: LineQuantity = strawberry.field(
        description="The new quantity, 1 to 99 (the line limit); cartLinesRemove drops a line."
    )


@strawberry.input(description="New quantities for lines of a cart.")
class CartLinesUpdateInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart.")
    lines: list[CartLineUpdateInput] = strawberry.field(description="1 to 100 lines.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Lines to remove from a cart.")
class CartLinesRemoveInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart.")
    line_ids: list[strawberry.ID] = strawberry.field(description="The lines' global ids.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.type(description="A new cart and the token that reaches it.")
class CartCreatePayload:
    cart: Cart | None = strawberry.field(description="The cart (a signed-in customer's one cart).")
    cart_token: str | None = strawberry.field(
        description=(
            "Send as X-Cart-Token to reach a guest cart; shown once. Null for a signed-in "
            "customer, whose session reaches the cart."
        )
    )
    errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")


@strawberry.type(description="A cart after a change, or why nothing changed.")
class CartPayload:
    cart: Cart | None = strawberry.field(
        description="The cart after the change; on VERSION_CONFLICT the current cart."
    )
    replayed: bool = strawberry.field(
        description="True when this repeats the first result of the same idempotencyKey."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing changed, if it did not.")

    @classmethod
    def failed(cls, error: AppError) -> CartPayload:
        """Build the payload of a refused change (carrying the cart on VERSION_CONFLICT)."""
        current = error.details if isinstance(error, VersionConflict) else None
        cart = Cart.from_model(current) if isinstance(current, carts.CartView) else None
        return cls(cart=cart, replayed=False, errors=[UserError.from_error(error)])


def announce(ctx: Context, *changed: carts.CartView) -> None:
    """Tell every subscriber of these carts about their new versions once the change commits."""
    for cart in changed:
        topic, notice = cart_topic(cart.id), {"id": cart.id, "version": cart.version}

        async def publish(topic: str = topic, notice: dict[str, int] = notice) -> None:
            await ctx.runtime.events.publish(topic, notice)

        ctx.after_commit(publish)


CartWork = Callable[[Viewer, datetime], Awaitable[carts.CartChange]]


async def run_change(info: Info, work: CartWork) -> CartPayload:
    """Run one cart change in a savepoint and turn its outcome into the payload.

    ``work`` calls one carts service with the operation's session (``ctx.session()``).
    """
    ctx = context_of(info)
    viewer = await ctx.viewer()
    change = await in_savepoint(ctx, lambda: work(viewer, utcnow()))
    if isinstance(change, AppError):
        return CartPayload.failed(change)
    if not change.replayed:
        announce(ctx, change.cart)
    return CartPayload(cart=Cart.from_model(change.cart), replayed=change.replayed, errors=[])


def _options(expected_version: int | None, idempotency_key: str | None) -> carts.WriteOptions:
    return carts.WriteOptions(expected_version=expected_version, idempotency_key=idempotency_key)


def _add_lines(lines: list[CartLineInput]) -> list[carts.AddLine]:
    return [
        carts.AddLine(
            quantity=line.quantity,
            gtin=line.gtin,
            product_id=(
                decode_id(line.product_id, "Product", field=f"lines[{i}].productId")
                if line.product_id is not None
                else None
            ),
        )
        for i, line in enumerate(lines)
    ]


@strawberry.type
class CartMutation:
    @strawberry.mutation(
        description=(
            "Start a guest cart (answering its token once); a signed-in customer gets their "
            "one active cart instead."
        )
    )
    async def cart_create(
        self,
        info: Info,
        input: Annotated[
            CartCreateInput | None, strawberry.argument(description="Optional first lines.")
        ] = None,
    ) -> CartCreatePayload:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        session = await ctx.session()
        outcome = await in_savepoint(
            ctx,
            lambda: carts.create_cart(
                session,
                viewer,
                utcnow(),
                lines=_add_lines(input.lines if input else []),
                max_quantity=ctx.settings.max_line_quantity,
            ),
        )
        if isinstance(outcome, AppError):
            return CartCreatePayload(
                cart=None, cart_token=None, errors=[UserError.from_error(outcome)]
            )
        created, change = outcome
        cart = change.cart if change else created.cart
        announce(ctx, cart)
        return CartCreatePayload(cart=Cart.from_model(cart), cart_token=created.token, errors=[])

    @strawberry.mutation(description="Add units of products, by barcode or product id.")
    async def cart_lines_add(
        self,
        info: Info,
        input: Annotated[CartLinesAddInput, strawberry.argument(description="What to add.")],
    ) -> CartPayload:
        ctx = context_of(info)
        max_quantity = ctx.settings.max_line_quantity

        async def work(viewer: Viewer, now: datetime) -> carts.CartChange:
            return await carts.add_lines(
                await ctx.session(),
                viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                _add_lines(input.lines),
                _options(input.expected_version, input.idempotency_key),
                now,
                max_quantity=max_quantity,
            )

        return await run_change(info, work)

    @strawberry.mutation(description="Set new quantities for lines.")
    async def cart_lines_update(
        self,
        info: Info,
        input: Annotated[CartLinesUpdateInput, strawberry.argument(description="What to change.")],
    ) -> CartPayload:
        ctx = context_of(info)
        max_quantity = ctx.settings.max_line_quantity

        async def work(viewer: Viewer, now: datetime) -> carts.CartChange:
            lines = [
                carts.SetLine(
                    decode_id(line.line_id, "CartLine", field=f"lines[{i}].lineId"), line.quantity
                )
                for i, line in enumerate(input.lines)
            ]
            return await carts.update_lines(
                await ctx.session(),
                viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                lines,
                _options(input.expected_version, input.idempotency_key),
                now,
                max_quantity=max_quantity,
            )

        return await run_change(info, work)

    @strawberry.mutation(description="Remove lines from a cart.")
    async def cart_lines_remove(
        self,
        info: Info,
        input: Annotated[CartLinesRemoveInput, strawberry.argument(description="What to remove.")],
    ) -> CartPayload:
        ctx = context_of(info)

        async def work(viewer: Viewer, now: datetime) -> carts.CartChange:
            line_ids = [
                decode_id(line_id, "CartLine", field=f"lineIds[{i}]")
                for i, line_id in enumerate(input.line_ids)
            ]
            return await carts.remove_lines(
                await ctx.session(),
                viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                line_ids,
                _options(input.expected_version, input.idempotency_key),
                now,
            )

        return await run_change(info, work)
