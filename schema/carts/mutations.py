"""Cart mutations: create a cart, add, change and remove lines, with versions and retry keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from schema.carts.types import Cart, LineQuantity
from schema.context import Context, context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_mutation
from server import analytics, carts
from server.errors import AppError, VersionConflict
from server.events import cart_topic

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
    scan_refs: list[str] = strawberry.field(
        default_factory=list,
        description=(
            "The `scanRef`s of scans this device made before it had a cart (at most 20, the "
            "last 30 minutes'): they count for the new cart in the scan reports. Unknown or "
            "forged references are ignored."
        ),
    )


@strawberry.input(description="Lines to add to a cart.")
class CartLinesAddInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart.")
    lines: list[CartLineInput] = strawberry.field(description="1 to 100 lines.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


def _python_names(input_type: type) -> dict[str, str]:
    """Map an input type's GraphQL field names to its Python ones.

    The schema names fields as Strawberry does by default (schema/build.py's config sets
    only a scalar map), so its name converter gives the names graphql-core's values carry.
    """
    converter = NameConverter()
    definition = get_object_definition(input_type, strict=True)
    return {converter.from_field(field): field.python_name for field in definition.fields}


_LINE_NAMES = _python_names(CartLineInput)
_ADD_NAMES = _python_names(CartLinesAddInput)


def _line_from_input(cls: type[CartLineInput], value: Mapping[str, Any], _: object) -> Any:
    return cls(**{_LINE_NAMES[name]: field for name, field in value.items()})


def _add_from_input(cls: type[CartLinesAddInput], value: Mapping[str, Any], _: object) -> Any:
    fields = {_ADD_NAMES[name]: field for name, field in value.items()}
    fields["lines"] = [_line_from_input(CartLineInput, line, None) for line in value["lines"]]
    return cls(**fields)


# The add is the hottest write: its input is built straight from the values graphql-core
# has already coerced (scalars parsed, required fields checked) through Strawberry's hook
# for types that build their own value, instead of its generic field-by-field conversion,
# which looks every field's name and type up again on every request.
get_object_definition(CartLineInput, strict=True).from_input = _line_from_input
get_object_definition(CartLinesAddInput, strict=True).from_input = _add_from_input


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

    @classmethod
    def failed(cls, error: AppError) -> CartCreatePayload:
        """Build the payload of a refused cart creation."""
        return cls(cart=None, cart_token=None, errors=[UserError.from_error(error)])


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

    @classmethod
    def of(cls, cart: carts.CartView, *, replayed: bool = False) -> CartPayload:
        """Build the payload of a cart after a change (or a replay of one)."""
        return cls(cart=Cart.from_model(cart), replayed=replayed, errors=[])


def announce(ctx: Context, *changed: carts.CartView) -> None:
    """Tell every subscriber of these carts about their new versions once the change commits."""
    for cart in changed:
        topic, notice = cart_topic(cart.id), {"id": cart.id, "version": cart.version}

        async def publish(topic: str = topic, notice: dict[str, int] = notice) -> None:
            ctx.runtime.publisher.post(topic, notice)

        ctx.after_commit(publish)


async def run_change(
    info: Info, work: Callable[[Call], Awaitable[carts.CartChange]]
) -> CartPayload:
    """Run one cart change through the mutation runner and announce the new version."""
    ctx = context_of(info)

    def payload_of(change: carts.CartChange) -> CartPayload:
        if not change.replayed:
            announce(ctx, change.cart)
        return CartPayload.of(change.cart, replayed=change.replayed)

    return await run_mutation(info, CartPayload, work, payload_of)


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

        def created(outcome: tuple[carts.NewCart, carts.CartChange | None]) -> CartCreatePayload:
            new, change = outcome
            cart = change.cart if change else new.cart
            announce(ctx, cart)
            return CartCreatePayload(cart=Cart.from_model(cart), cart_token=new.token, errors=[])

        async def create(call: Call) -> tuple[carts.NewCart, carts.CartChange | None]:
            outcome = await carts.create_cart(
                call.session,
                call.viewer,
                call.now,
                lines=_add_lines(input.lines if input else []),
                max_quantity=call.settings.max_line_quantity,
            )
            if input and input.scan_refs:
                await analytics.link_scans_to_cart(
                    call.session,
                    input.scan_refs,
                    outcome[0].cart.id,
                    secret_key=ctx.runtime.secret_key,
                    window=timedelta(minutes=call.settings.scan_conversion_minutes),
                    now=call.now,
                )
            return outcome

        return await run_mutation(info, CartCreatePayload, create, created)

    @strawberry.mutation(description="Add units of products, by barcode or product id.")
    async def cart_lines_add(
        self,
        info: Info,
        input: Annotated[CartLinesAddInput, strawberry.argument(description="What to add.")],
    ) -> CartPayload:
        async def work(call: Call) -> carts.CartChange:
            return await carts.add_lines(
                call.session,
                call.viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                _add_lines(input.lines),
                _options(input.expected_version, input.idempotency_key),
                call.now,
                max_quantity=call.settings.max_line_quantity,
            )

        return await run_change(info, work)

    @strawberry.mutation(description="Set new quantities for lines.")
    async def cart_lines_update(
        self,
        info: Info,
        input: Annotated[CartLinesUpdateInput, strawberry.argument(description="What to change.")],
    ) -> CartPayload:
        async def work(call: Call) -> carts.CartChange:
            lines = [
                carts.SetLine(
                    decode_id(line.line_id, "CartLine", field=f"lines[{i}].lineId"), line.quantity
                )
                for i, line in enumerate(input.lines)
            ]
            return await carts.update_lines(
                call.session,
                call.viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                lines,
                _options(input.expected_version, input.idempotency_key),
                call.now,
                max_quantity=call.settings.max_line_quantity,
            )

        return await run_change(info, work)

    @strawberry.mutation(description="Remove lines from a cart.")
    async def cart_lines_remove(
        self,
        info: Info,
        input: Annotated[CartLinesRemoveInput, strawberry.argument(description="What to remove.")],
    ) -> CartPayload:
        async def work(call: Call) -> carts.CartChange:
            line_ids = [
                decode_id(line_id, "CartLine", field=f"lineIds[{i}]")
                for i, line_id in enumerate(input.line_ids)
            ]
            return await carts.remove_lines(
                call.session,
                call.viewer,
                decode_id(input.cart_id, "Cart", field="cartId"),
                line_ids,
                _options(input.expected_version, input.idempotency_key),
                call.now,
            )

        return await run_change(info, work)
