"""``omnicart expire-orders``: expire click-and-collect orders nobody collected in time."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.commands.console import console, in_transaction, load_settings
from server.models import utcnow
from server.orders import expire_overdue


async def _expire(session: AsyncSession) -> list[tuple[str, str, str, int]]:
    expired = await expire_overdue(session, now=utcnow())
    stores = await catalog.stores_by_ids(
        session, [e.order.pickup_store_id for e in expired if e.order.pickup_store_id]
    )
    rows = []
    for e in expired:
        store = stores.get(e.order.pickup_store_id or 0)
        deadline = e.order.pickup_deadline
        rows.append(
            (
                e.order.number,
                store.code if store else "",
                deadline.strftime("%Y-%m-%d %H:%M") if deadline else "",
                e.units_released,
            )
        )
    return rows


def expire_orders() -> None:
    """Expire uncollected click-and-collect orders past their pickup deadline.

    Their reserved stock goes back on sale. Safe to run again (e.g. from cron): orders
    already expired are left alone. The deadline is OMNICART_ORDER_PICKUP_DAYS after the
    order was placed, and again after it was marked ready.
    """
    rows = in_transaction(load_settings(), _expire)
    if not rows:
        console.print("No click-and-collect order is past its pickup deadline.")
        return
    table = Table("order", "store", "deadline (UTC)", "units released")
    for number, store, deadline, units in rows:
        table.add_row(number, store, deadline, str(units))
    Console().print(table)
    released = sum(units for *_, units in rows)
    console.print(f"Expired {len(rows)} order(s); {released} unit(s) are back on sale.")
