"""What staff read of stock: levels and the movements behind them (audit-recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema import paging
from schema.catalog import Product, Store
from schema.context import context_of
from schema.ids import decode_id, encode_id
from schema.mutations import Call, run_in_operation
from schema.orders.queries import AFTER, FIRST
from schema.paging import PageInfo
from schema.writes import WRITES
from server import catalog
from server.catalog import stock_status
from server.errors import NotFound
from server.gtin import parse_gtin
from server.states import MovementSource, StockMovementKind, StockStatus
from server.stock.levels import LevelView, MovementView, stock_levels, stock_movements


@strawberry.type(description="A product's stock at one location, as staff see it.")
class StaffStockLevel:
    on_hand: int = strawberry.field(description="Units at the location.")
    reserved: int = strawberry.field(description="Units of those promised to orders.")
    available: int = strawberry.field(description="On hand minus reserved.")
    status: StockStatus = strawberry.field(description="Available units as shoppers see them.")
    updated_at: datetime = strawberry.field(description="When the level last changed.")
    cursor: str = strawberry.field(description="Pass as `after` for the levels after this one.")
    view: strawberry.Private[LevelView]

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product | None:
        row = await context_of(info).loaders.product.load(self.view.product_id)
        return await Product.load(info, row) if row else None

    @strawberry.field(description="The store; null for the online warehouse.")
    async def store(self, info: Info) -> Store | None:
        if self.view.store_id is None:
            return None
        row = await context_of(info).loaders.store.load(self.view.store_id)
        return Store.from_model(row) if row else None


@strawberry.type(description="A page of stock levels, by product.")
class StaffStockLevelConnection:
    levels: list[StaffStockLevel] = strawberry.field(description="This page's levels.")
    page_info: PageInfo = strawberry.field(description="Paging.")


@strawberry.type(description="One row of a level's history: a movement and what it did.")
class StockLedgerEntry:
    movement_id: str | None = strawberry.field(
        description="The device's id; null for what the system wrote (opening, orders, check)."
    )
    source: MovementSource = strawberry.field(description="Who wrote it.")
    kind: StockMovementKind = strawberry.field(description="What happened.")
    quantity: int = strawberry.field(description="The quantity sent.")
    applied: int = strawberry.field(description="The change of on hand it made.")
    on_hand_after: int = strawberry.field(description="On hand right after it.")
    unknown_units: int = strawberry.field(description="Sold beyond on hand.")
    reserved_units: int = strawberry.field(description="Would have come out of reservations.")
    occurred_at: datetime = strawberry.field(description="When it happened (opening: 1970).")
    recorded_at: datetime = strawberry.field(description="When omnicart recorded it.")
    transfer_id: str | None = strawberry.field(description="The transfer it is half of.")
    receipt_number: str | None = strawberry.field(description="The till receipt.")
    order_id: strawberry.ID | None = strawberry.field(description="The order, for ORDER rows.")
    device_id: strawberry.ID | None = strawberry.field(description="The device that sent it.")

    @classmethod
    def from_view(cls, v: MovementView) -> StockLedgerEntry:
        """Build the entry from a ledger row."""
        return cls(
            movement_id=v.movement_id, source=MovementSource(v.source),
            kind=StockMovementKind(v.kind), quantity=v.quantity, applied=v.applied,
            on_hand_after=v.on_hand_after, unknown_units=v.unknown_units,
            reserved_units=v.reserved_units, occurred_at=v.occurred_at,
            recorded_at=v.recorded_at, transfer_id=v.transfer_id,
            receipt_number=v.receipt_number,
            order_id=strawberry.ID(encode_id("Order", v.order_id)) if v.order_id else None,
            device_id=strawberry.ID(encode_id("Device", v.device_id)) if v.device_id else None,
        )  # fmt: skip


@strawberry.type(description="A page of a level's history, newest first.")
class StockLedgerConnection:
    entries: list[StockLedgerEntry] = strawberry.field(description="This page's rows.")
    page_info: PageInfo = strawberry.field(description="Paging.")


def _store_arg(store_id: strawberry.ID | None) -> int | None:
    return decode_id(store_id, "Store", field="storeId") if store_id else None


@strawberry.type
class StockQuery:
    @strawberry.field(
        description="Staff: the stock levels of a store (admins: null for the online "
        "warehouse), by product; `lowOnly` keeps those at or below the low-stock threshold. "
        "Recorded in the audit trail.",
        metadata=WRITES,
    )
    async def stock_levels(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID | None, strawberry.argument(description="The store.")],
        low_only: Annotated[bool, strawberry.argument(description="Only low ones.")] = False,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> StaffStockLevelConnection:
        ctx = context_of(info)
        store = _store_arg(store_id)
        after_id = paging.decode_cursor("level", after) if after is not None else None
        threshold = ctx.settings.low_stock_threshold
        # The read and its audit row commit with the operation (schema.writes).
        views, more = await run_in_operation(
            info,
            lambda call: stock_levels(
                call.session, call.viewer, store_id=store, low_only=low_only,
                low_threshold=threshold, after_product_id=after_id, limit=first, now=call.now,
            ),
        )  # fmt: skip
        levels = [
            StaffStockLevel(
                on_hand=v.on_hand,
                reserved=v.reserved,
                available=v.available,
                status=stock_status(v.available, threshold),
                updated_at=v.updated_at,
                cursor=paging.encode_cursor("level", v.product_id),
                view=v,
            )  # fmt: skip
            for v in views
        ]
        cursors = [lv.cursor for lv in levels]
        info_ = PageInfo.of(cursors, has_next=more, has_previous=after is not None)
        return StaffStockLevelConnection(levels=levels, page_info=info_)

    @strawberry.field(
        description="Staff: the movements behind a level, newest first (the opening balance, "
        "device movements, orders, repairs). Recorded in the audit trail.",
        metadata=WRITES,
    )
    async def stock_movements(
        self,
        info: Info,
        gtin: Annotated[str, strawberry.argument(description="The product's barcode.")],
        store_id: Annotated[strawberry.ID | None, strawberry.argument(description="The store.")],
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> StockLedgerConnection:
        store = _store_arg(store_id)
        before = paging.decode_cursor("movement", after) if after is not None else None

        async def read(call: Call) -> tuple[list[MovementView], bool]:
            row = await catalog.product_by_gtin(call.session, parse_gtin(gtin))
            if row is None:
                raise NotFound("No product has this barcode.", field="gtin")
            return await stock_movements(
                call.session, call.viewer, product_id=row.id, store_id=store, before_id=before,
                limit=first, now=call.now,
            )  # fmt: skip

        views, more = await run_in_operation(info, read)
        cursors = [paging.encode_cursor("movement", v.id) for v in views]
        return StockLedgerConnection(
            entries=[StockLedgerEntry.from_view(v) for v in views],
            page_info=PageInfo.of(cursors, has_next=more, has_previous=after is not None),
        )
