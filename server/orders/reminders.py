"""Reminders: click-and-collect orders whose pickup deadline is less than a day away."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Order
from server.notifications.writer import notify_order
from server.orders.views import OrderView, order_facts, orders_by_ids
from server.states import FulfilmentMethod, OrderStatus

REMIND_BEFORE = timedelta(days=1)


async def remind_expiring(session: AsyncSession, *, now: datetime) -> list[OrderView]:
    """Tell the shoppers of orders still waiting whose deadline falls within a day.

    Each order is reminded once per deadline (marking it ready sets a new one, which may
    be reminded again): the notification's key holds the deadline, so running this again,
    from cron every hour say, writes nothing new. Returns the orders newly reminded.
    """
    ids = (
        await session.execute(
            select(Order.id)
            .where(
                Order.fulfilment == FulfilmentMethod.CLICK_AND_COLLECT,
                Order.status.in_((OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP)),
                Order.pickup_deadline > now,
                Order.pickup_deadline <= now + REMIND_BEFORE,
            )
            .order_by(Order.id)
        )
    ).scalars()
    orders = await orders_by_ids(session, list(ids))
    reminded = []
    for order_id in sorted(orders):
        order = orders[order_id]
        assert order.pickup_deadline is not None
        event = order.pickup_deadline.strftime("%Y%m%dT%H%M%S")
        if await notify_order(session, order_facts(order), "order_expiring", now, event=event):
            reminded.append(order)
    return reminded
