"""Stock over GraphQL: movements from tills and warehouses, live products, staff stock views."""

from __future__ import annotations

import strawberry

from server.states import MovementSource, StockMovementKind

# The GraphQL enums are the server's own (server.states): one spelling of each.
strawberry.enum(
    StockMovementKind,
    name="StockMovementKind",
    description=(
        "What moved stock: SALE, RETURN, RECEIPT, COUNT (sets on hand to the counted number "
        "as of its time), ADJUSTMENT (plus or minus), TRANSFER_OUT and TRANSFER_IN (paired "
        "by a transferId)."
    ),
)
strawberry.enum(
    MovementSource,
    name="StockMovementSource",
    description=(
        "Who wrote a ledger row: a DEVICE, a FILE (omnicart stock import), an ORDER (picked "
        "up, shipped or returned), the CHECK (omnicart stock check --fix), or the OPENING "
        "balance a location held before its history began."
    ),
)


from schema.stock.movements import StockMutation  # noqa: E402
from schema.stock.staff import StockQuery  # noqa: E402
from schema.stock.subscriptions import StockSubscription  # noqa: E402

__all__ = ["StockMutation", "StockQuery", "StockSubscription"]
