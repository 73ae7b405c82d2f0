"""Staff order actions: ready, collected, cancel, shipped, delivered, and returns in a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_mutation
from schema.orders.checkout import announce_order
from schema.orders.types import Order
from server import orders
from server.errors import AppError, InvalidInput, InvalidTransition
from server.staff import StaffActor, require_staff

MAX_NOTE = 500


@strawberry.input(description="The order to act on.")
class OrderActionInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    note: str | None = strawberry.field(
        default=None, description="Why, for the order's history (e.g. a cancel reason)."
    )


@strawberry.input(description="Units of one order line brought back.")
class ReturnLineInput:
    line_id: strawberry.ID = strawberry.field(description="The order line's global id.")
    quantity: int = strawberry.field(description="Units brought back.")


@strawberry.input(description="Goods of a collected or delivered order brought back to a store.")
class OrderReturnInput:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    store_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The store taking them back: staff's own store (admins must name one).",
    )
    lines: list[ReturnLineInput] | None = strawberry.field(
        default=None, description="What came back; leave out for everything not yet returned."
    )


@strawberry.type(description="An order after a staff action, or why nothing changed.")
class OrderPayload:
    order: Order | None = strawberry.field(
        description="The order after the action; on INVALID_TRANSITION the order as it is."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing changed, if it did not.")

    @classmethod
    def failed(cls, error: AppError) -> OrderPayload:
        """Build the payload of a refused action."""
        current = error.details if isinstance(error, InvalidTransition) else None
        order = Order.from_model(current) if isinstance(current, orders.OrderView) else None
        return cls(order=order, errors=[UserError.from_error(error)])


Work = Callable[[StaffActor, Call], Awaitable[orders.OrderView]]


async def _act(info: Info, work: Work) -> OrderPayload:
    """Run one staff action through the mutation runner; refuse non-staff before any lookup."""
    ctx = context_of(info)

    def acted(order: orders.OrderView) -> OrderPayload:
        announce_order(ctx, order)
        return OrderPayload(order=Order.from_model(order), errors=[])

    return await run_mutation(
        info, OrderPayload, lambda call: work(require_staff(call.viewer), call), acted
    )


async def _transition(info: Info, input: OrderActionInput, action: orders.Action) -> OrderPayload:
    async def work(actor: StaffActor, call: Call) -> orders.OrderView:
        if input.note is not None and len(input.note) > MAX_NOTE:
            raise InvalidInput(f"A note has at most {MAX_NOTE} characters.", field="note")
        return await orders.transition(
            call.session,
            actor,
            decode_id(input.order_id, "Order", field="orderId"),
            action,
            now=call.now,
            pickup_days=call.settings.order_pickup_days,
            points_per_10_kr=call.settings.points_per_10_kr,
            note=input.note,
        )

    return await _act(info, work)


ACTION_INPUT = strawberry.argument(description="The order, and a note if you like.")


@strawberry.type
class OrderActionMutation:
    @strawberry.mutation(
        description="Staff of the pickup store: the order is picked and waits at the counter."
    )
    async def order_mark_ready(
        self, info: Info, input: Annotated[OrderActionInput, ACTION_INPUT]
    ) -> OrderPayload:
        return await _transition(info, input, "mark_ready")

    @strawberry.mutation(
        description="Staff of the pickup store: the shopper took the order; its stock is gone."
    )
    async def order_mark_collected(
        self, info: Info, input: Annotated[OrderActionInput, ACTION_INPUT]
    ) -> OrderPayload:
        return await _transition(info, input, "mark_collected")

    @strawberry.mutation(
        description=(
            "Staff of the pickup store (admins: any order not yet collected or shipped): cancel; "
            "its reserved stock goes back on sale."
        )
    )
    async def order_cancel(
        self, info: Info, input: Annotated[OrderActionInput, ACTION_INPUT]
    ) -> OrderPayload:
        return await _transition(info, input, "cancel")

    @strawberry.mutation(description="Admins: a delivery order left the warehouse.")
    async def order_mark_shipped(
        self, info: Info, input: Annotated[OrderActionInput, ACTION_INPUT]
    ) -> OrderPayload:
        return await _transition(info, input, "mark_shipped")

    @strawberry.mutation(description="Admins: a shipped delivery order arrived.")
    async def order_mark_delivered(
        self, info: Info, input: Annotated[OrderActionInput, ACTION_INPUT]
    ) -> OrderPayload:
        return await _transition(info, input, "mark_delivered")

    @strawberry.mutation(
        description=(
            "Staff: take goods of a collected or delivered order back in your store; they go on "
            "hand there. The order becomes RETURNED once everything is back."
        )
    )
    async def order_return(
        self,
        info: Info,
        input: Annotated[OrderReturnInput, strawberry.argument(description="What came back.")],
    ) -> OrderPayload:
        async def work(actor: StaffActor, call: Call) -> orders.OrderView:
            lines = (
                [
                    orders.ReturnLine(
                        decode_id(line.line_id, "OrderLine", field=f"lines[{i}].lineId"),
                        line.quantity,
                    )
                    for i, line in enumerate(input.lines)
                ]
                if input.lines is not None
                else None
            )
            return await orders.take_return(
                call.session,
                actor,
                decode_id(input.order_id, "Order", field="orderId"),
                store_id=decode_id(input.store_id, "Store", field="storeId")
                if input.store_id
                else None,
                lines=lines,
                now=call.now,
                points_per_10_kr=call.settings.points_per_10_kr,
            )

        return await _act(info, work)
