"""How a cart line can be had from a store's point of view: the kiosk's split of a cart.

For a line of ``quantity`` units seen from store S:

* **on the shelf here** when S has at least that many available: the shopper picks it up
  in the store and pays at the till, so it stays in the cart;
* **collect here** on the same condition: it may also be ordered and held for later;
* **collect at** every other store with enough available, most available first;
* **delivery** when the online warehouse has enough available.

The recommendation is the first that applies of: shelf here, delivery, collect at the
store with most available, else unavailable. A kiosk shows the choices, removes nothing
itself, and checks out the lines to order with ``lineIds`` (the rest stay in the cart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.catalog import StockFigure
from server.states import FulfilmentOption


@dataclass(frozen=True, slots=True)
class LineOptions:
    """Where a line's units can be had, seen from one store."""

    quantity: int
    available_here: int
    on_shelf_here: bool
    collect_here: bool
    collect_at: tuple[int, ...]
    available_online: int
    delivery: bool
    recommended: FulfilmentOption


def line_options(
    figures: Sequence[StockFigure], quantity: int, store_id: int | None
) -> LineOptions:
    """Return the ways to get ``quantity`` units of a product, seen from ``store_id``."""
    here = sum(f.available for f in figures if store_id is not None and f.store_id == store_id)
    online = sum(f.available for f in figures if f.online)
    elsewhere = sorted(
        (f for f in figures if not f.online and f.store_id not in (None, store_id)),
        key=lambda f: (-f.available, f.store_id),
    )
    collect_at = tuple(f.store_id for f in elsewhere if f.available >= quantity and f.store_id)
    on_shelf = store_id is not None and here >= quantity
    if on_shelf:
        recommended = FulfilmentOption.SHELF_HERE
    elif online >= quantity:
        recommended = FulfilmentOption.DELIVERY
    elif collect_at:
        recommended = FulfilmentOption.COLLECT_ELSEWHERE
    else:
        recommended = FulfilmentOption.UNAVAILABLE
    return LineOptions(
        quantity=quantity,
        available_here=here,
        on_shelf_here=on_shelf,
        collect_here=on_shelf,
        collect_at=collect_at,
        available_online=online,
        delivery=online >= quantity,
        recommended=recommended,
    )
