"""The ``checkout`` mutation: a cart (or the lines a kiosk picks) becomes an order."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.mutations import EXPECTED_VERSION, announce
from schema.carts.types import Cart
from schema.context import Context, context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import run_mutation
from schema.orders.types import Order, OrderChannel, UnavailableLineType
from server import carts, orders
from server.errors import AppError, InsufficientStock, InvalidInput, VersionConflict
from server.events import order_topic
from server.notifications.contact import checked_contact
from server.notifications.language import language_from_accept


@strawberry.input(description="Collect in a store; the units are reserved there until then.")
class ClickAndCollectInput:
    store_id: strawberry.ID = strawberry.field(description="The store to collect at.")


@strawberry.input(description="Deliver to an address; the online warehouse's units are reserved.")
class DeliveryInput:
    address: str = strawberry.field(description="Where to deliver (1 to 500 characters).")


@strawberry.input(description="How the order reaches the shopper: give exactly one.")
class FulfilmentInput:
    click_and_collect: ClickAndCollectInput | None = strawberry.field(
        default=None, description="Collect in a store."
    )
    delivery: DeliveryInput | None = strawberry.field(default=None, description="Deliver.")


@strawberry.input(description="Where to tell the shopper about the order (either or both).")
class ContactInput:
    email: str | None = strawberry.field(default=None, description="An email address.")
    phone: str | None = strawberry.field(
        default=None, description="A phone number for SMS (6 to 15 digits, optionally after +)."
    )


@strawberry.input(description="The cart to order, at the version the shopper saw.")
class CheckoutInput:
    cart_id: strawberry.ID = strawberry.field(description="The cart.")
    expected_version: int = strawberry.field(description=EXPECTED_VERSION)
    fulfilment: FulfilmentInput = strawberry.field(description="Collect or delivery.")
    line_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=(
            "Order only these lines (a kiosk's split): they leave the cart, the rest stay. "
            "Leave out to order the whole cart, which then closes."
        ),
    )
    channel: OrderChannel | None = strawberry.field(
        default=None,
        description=(
            "WEB (default) or APP, for phones and browsers; kiosks and staff devices are known "
            "by their token."
        ),
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A key unique to this checkout: a retry with it answers the order already placed "
            "(replayed), even after the cart closed."
        ),
    )
    contact: ContactInput | None = strawberry.field(
        default=None,
        description=(
            "Where to send the order's messages (a guest's only way to get them); for a "
            "signed-in customer it replaces the account's email and phone for this order."
        ),
    )
    use_points: int | None = strawberry.field(
        default=None,
        description=(
            "Club points paying part of the order (a point pays 10 øre), held at once and "
            "spent when the order is collected or delivered; INSUFFICIENT_POINTS when the "
            "balance is short. Members only."
        ),
    )


@strawberry.type(description="The order placed, and the cart to go on with; or why not.")
class CheckoutPayload:
    order: Order | None = strawberry.field(description="The order, when one was placed.")
    cart: Cart | None = strawberry.field(
        description=(
            "A customer's fresh cart, or the cart with the lines a split left behind; on "
            "VERSION_CONFLICT the current cart; null for a guest whose whole cart was ordered."
        )
    )
    replayed: bool = strawberry.field(
        description="True when this repeats the order the same idempotencyKey placed."
    )
    unavailable_lines: list[UnavailableLineType] = strawberry.field(
        description="On INSUFFICIENT_STOCK: every line that cannot be had and what is available."
    )
    errors: list[UserError] = strawberry.field(description="Why no order was placed, if none was.")

    @classmethod
    def failed(cls, error: AppError) -> CheckoutPayload:
        """Build the payload of a refused checkout."""
        current = error.details if isinstance(error, VersionConflict) else None
        short = error.details if isinstance(error, InsufficientStock) else None
        return cls(
            order=None,
            cart=Cart.from_model(current) if isinstance(current, carts.CartView) else None,
            replayed=False,
            unavailable_lines=[UnavailableLineType.from_model(line) for line in short or []],
            errors=[UserError.from_error(error)],
        )

    @classmethod
    def placed(cls, result: orders.CheckoutResult) -> CheckoutPayload:
        """Build the payload of an order placed (or replayed)."""
        return cls(
            order=Order.from_model(result.order),
            cart=Cart.from_model(result.cart) if result.cart else None,
            replayed=result.replayed,
            unavailable_lines=[],
            errors=[],
        )


def announce_order(ctx: Context, order: orders.OrderView) -> None:
    """Tell the order's followers about its new version once the change commits."""
    topic, notice = order_topic(order.id), {"id": order.id, "version": order.version}

    async def publish() -> None:
        ctx.runtime.publisher.post(topic, notice)

    ctx.after_commit(publish)


def _fulfilment(given: FulfilmentInput) -> orders.Fulfilment:
    if (given.click_and_collect is None) == (given.delivery is None):
        raise InvalidInput("Give either clickAndCollect or delivery.", field="fulfilment")
    if given.click_and_collect is not None:
        store_id = decode_id(
            given.click_and_collect.store_id,
            "Store",
            field="fulfilment.clickAndCollect.storeId",
        )
        return orders.ClickAndCollect(store_id)
    assert given.delivery is not None
    return orders.Delivery(given.delivery.address)


def _request(input: CheckoutInput, accept_language: str | None) -> orders.CheckoutRequest:
    line_ids = (
        tuple(
            decode_id(line_id, "CartLine", field=f"lineIds[{i}]")
            for i, line_id in enumerate(input.line_ids)
        )
        if input.line_ids is not None
        else None
    )
    return orders.CheckoutRequest(
        cart_id=decode_id(input.cart_id, "Cart", field="cartId"),
        expected_version=input.expected_version,
        fulfilment=_fulfilment(input.fulfilment),
        line_ids=line_ids,
        channel=input.channel.value if input.channel else None,
        idempotency_key=input.idempotency_key,
        contact=checked_contact(
            input.contact.email if input.contact else None,
            input.contact.phone if input.contact else None,
        ),
        language=language_from_accept(accept_language),
        use_points=input.use_points or 0,
    )


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(
        description=(
            "Order the cart (or lineIds of it) at expectedVersion: prices in force now, stock "
            "reserved all or nothing at the pickup store or the online warehouse. Answers "
            "INSUFFICIENT_STOCK with unavailableLines when any line falls short, "
            "VERSION_CONFLICT with the current cart when it moved on."
        )
    )
    async def checkout(
        self,
        info: Info,
        input: Annotated[CheckoutInput, strawberry.argument(description="What to order, how.")],
    ) -> CheckoutPayload:
        ctx = context_of(info)

        def placed(result: orders.CheckoutResult) -> CheckoutPayload:
            if not result.replayed:
                announce(ctx, *result.changed_carts)
                announce_order(ctx, result.order)
                # Its basket counts and "placed" messages follow after commit.
                ctx.after_commit(ctx.runtime.placed_orders.wake_after_commit)
            ctx.loaders.order_lines.prime(result.order.id, list(result.lines))
            return CheckoutPayload.placed(result)

        return await run_mutation(
            info,
            CheckoutPayload,
            lambda call: orders.checkout(
                call.session,
                call.viewer,
                _request(input, ctx.request.headers.get("accept-language")),
                now=call.now,
                currency=call.settings.currency,
                pickup_days=call.settings.order_pickup_days,
                # run_mutation undoes a refusal (a rollback, or its savepoint).
                savepoint=False,
            ),
            placed,
        )
