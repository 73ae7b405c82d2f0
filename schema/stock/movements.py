"""Recording stock movements over GraphQL: `stockMovementsRecord` for tills and warehouses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.catalog import Product, Store
from schema.context import Context, context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_mutation
from server import stock
from server.errors import AppError, ErrorCode
from server.states import StockMovementKind


@strawberry.input(description="One stock movement from a till or warehouse system.")
class StockMovementInput:
    movement_id: str = strawberry.field(
        description="Your id for it, unique across the chain (e.g. till id + sequence): "
        "sending it again applies it once; with other content it is IDEMPOTENCY_KEY_REUSED."
    )
    gtin: str = strawberry.field(
        description="The product's barcode in any printed form, or the chain's own code."
    )
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="The store; null for the online warehouse."
    )
    kind: StockMovementKind = strawberry.field(description="What happened.")
    quantity: int = strawberry.field(
        description="Units: 1 up (COUNT: 0 up; ADJUSTMENT: plus or minus, not 0)."
    )
    occurred_at: datetime = strawberry.field(
        description="When it happened, with a time zone; movements apply in this order."
    )
    transfer_id: str | None = strawberry.field(
        default=None, description="Pairs a TRANSFER_OUT with its TRANSFER_IN (transfers only)."
    )
    receipt_number: str | None = strawberry.field(
        default=None, description="The till receipt a sale or return was on."
    )
    customer_phone: str | None = strawberry.field(
        default=None, description="The club member's phone the till identified, if any."
    )

    def to_service(self) -> stock.MovementInput:
        """Return the service's plain movement, or raise InvalidInput for a bad store id."""
        return stock.MovementInput(
            movement_id=self.movement_id,
            gtin=self.gtin,
            store_id=decode_id(self.store_id, "Store", field="storeId") if self.store_id else None,
            kind=self.kind.value,
            quantity=self.quantity,
            occurred_at=self.occurred_at,
            transfer_id=self.transfer_id,
            receipt_number=self.receipt_number,
            customer_phone=self.customer_phone,
        )


@strawberry.input(description="Up to 1,000 movements, applied together or not at all.")
class StockMovementsRecordInput:
    movements: list[StockMovementInput] = strawberry.field(description="The movements.")


@strawberry.type(description="A movement that could not do all it asked.")
class StockShortfall:
    index: int = strawberry.field(description="Its position in `movements`, from 0.")
    movement_id: str = strawberry.field(description="Its movementId.")
    kind: StockMovementKind = strawberry.field(description="Its kind.")
    requested: int = strawberry.field(description="The quantity it asked for.")
    applied: int = strawberry.field(description="The change of on hand it made.")
    unknown_units: int = strawberry.field(
        description="Units sold beyond on hand: the till sold what the system did not know of."
    )
    reserved_units: int = strawberry.field(
        description="Units that would have come out of stock reserved for orders (kept "
        "reserved): staff should check those orders."
    )
    product_id: strawberry.Private[int]
    store_id: strawberry.Private[int | None]

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product | None:
        row = await context_of(info).loaders.product.load(self.product_id)
        return await Product.load(info, row) if row else None

    @strawberry.field(description="The store; null for the online warehouse.")
    async def store(self, info: Info) -> Store | None:
        if self.store_id is None:
            return None
        row = await context_of(info).loaders.store.load(self.store_id)
        return Store.from_model(row) if row else None


@strawberry.type(description="A movement that was refused, and why.")
class RejectedMovement:
    index: int = strawberry.field(description="Its position in `movements`, from 0.")
    movement_id: str | None = strawberry.field(description="Its movementId.")
    code: ErrorCode = strawberry.field(description="Why.")
    field: str | None = strawberry.field(description="The movement's field at fault.")
    message: str = strawberry.field(description="A sentence to show a person.")


@strawberry.type(description="The result of recording stock movements.")
class StockMovementsPayload:
    applied: int = strawberry.field(description="Movements applied now.")
    replayed: int = strawberry.field(description="Movements recorded before: nothing changed.")
    shortfalls: list[StockShortfall] = strawberry.field(
        description="Applied movements that could not take all they asked."
    )
    rejected: list[RejectedMovement] = strawberry.field(
        description="The bad movements by index; when there is any, none was applied."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was applied: the call's refusal, or one per bad movement "
        "(`field` is `movements.INDEX.FIELD`)."
    )

    @classmethod
    def failed(cls, error: AppError) -> StockMovementsPayload:
        """Build the payload of a refused call: nothing applied."""
        return cls(
            applied=0, replayed=0, shortfalls=[], rejected=[], errors=[UserError.from_error(error)]
        )


def _payload(result: stock.Recorded) -> StockMovementsPayload:
    rejected = [
        RejectedMovement(
            index=r.index,
            movement_id=r.movement_id,
            code=ErrorCode(r.error.code),
            field=r.error.field,
            message=r.error.message,
        )
        for r in result.rejected
    ]
    errors = [
        UserError(
            code=r.code, field=f"movements.{r.index}.{r.field or 'movement'}", message=r.message
        )
        for r in rejected
    ]
    shortfalls = [
        StockShortfall(
            index=s.index,
            movement_id=s.movement_id,
            kind=StockMovementKind(s.kind),
            requested=s.requested,
            applied=s.applied,
            unknown_units=s.unknown_units,
            reserved_units=s.reserved_units,
            product_id=s.product_id,
            store_id=s.store_id,
        )  # fmt: skip
        for s in result.shortfalls
    ]
    return StockMovementsPayload(
        applied=result.applied,
        replayed=result.replayed,
        shortfalls=shortfalls,
        rejected=rejected,
        errors=errors,
    )


async def _movements(ctx: Context, input: StockMovementsRecordInput) -> list[stock.MovementInput]:
    found: list[stock.MovementInput] = []
    for index, movement in enumerate(input.movements):
        try:
            found.append(movement.to_service())
        except AppError as error:
            error.field = f"movements.{index}.storeId"
            raise
    return found


@strawberry.type
class StockMutation:
    @strawberry.mutation(
        description=(
            "Till (pos) and warehouse devices: record up to 1,000 stock movements in one "
            "transaction, in occurredAt order. One bad movement and none is applied (see "
            "`rejected`). Sales never take on hand below zero nor into reserved stock; what "
            "they asked beyond that is in `shortfalls`. Others get UNAUTHORIZED."
        )
    )
    async def stock_movements_record(
        self,
        info: Info,
        input: Annotated[StockMovementsRecordInput, strawberry.argument(description="Movements.")],
    ) -> StockMovementsPayload:
        ctx = context_of(info)

        async def record(call: Call) -> stock.Recorded:
            recorder = stock.Recorder.of_viewer(call.viewer, club=stock.TillClub.of(call.settings))
            movements = await _movements(ctx, input)
            return await stock.record_movements(call.session, recorder, movements, call.now)

        return await run_mutation(info, StockMovementsPayload, record, _payload)
