"""After a checkout commits: its basket's pair counts and its "placed" messages, in batches.

A checkout writes one outbox row ``(ORDER_PLACED, order id)`` in its own transaction (with
the products' rows, in the same INSERT) and nothing else for these, so the shopper's
request holds no co-purchase rows and reads no push subscriptions.
``follow_placed_orders`` takes a batch of those rows, counts the baskets
(``server.notifications.complements.record_baskets``) and writes the notifications
(``notify_orders``, keyed, so a re-run adds nothing) in the transaction that deletes the
rows: each order is followed exactly once, even with several processes (the DELETE claims
its rows; a second one finds them gone). Every process runs it in the background
(``PlacedOrders.run_forever``), woken after each checkout it commits, and
``omnicart housekeeping`` runs it from cron.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import delete, select

from server.db import Database
from server.models import OutboxEvent, utcnow
from server.notifications.complements import record_baskets
from server.notifications.writer import notify_orders
from server.orders.views import lines_by_order, order_facts, orders_by_ids

ORDER_PLACED = "order_placed"
BATCH = 100
log = logging.getLogger("omnicart.orders")


async def follow_placed_orders(db: Database, *, batch: int = BATCH) -> int:
    """Follow up to ``batch`` placed orders (oldest first); return how many were taken."""
    async with db.transaction() as session:
        oldest = (
            select(OutboxEvent.id)
            .where(OutboxEvent.topic == ORDER_PLACED)
            .order_by(OutboxEvent.id)
            .limit(batch)
        )
        if not db.is_sqlite:
            # Workers following at once take different orders instead of waiting on each other.
            oldest = oldest.with_for_update(skip_locked=True)
        taken = await session.execute(
            delete(OutboxEvent)
            .where(OutboxEvent.id.in_(oldest.scalar_subquery()))
            .returning(OutboxEvent.entity_id)
            .execution_options(synchronize_session=False)
        )
        order_ids = sorted(set(taken.scalars()))
        if not order_ids:
            return 0
        orders = await orders_by_ids(session, order_ids)
        lines = await lines_by_order(session, order_ids)
        await record_baskets(session, [[ln.product_id for ln in lines[oid]] for oid in orders])
        facts = [order_facts(orders[oid]) for oid in order_ids if oid in orders]
        await notify_orders(session, facts, "order_placed", utcnow())
        return len(order_ids)


async def follow_all(db: Database, *, batch: int = BATCH) -> int:
    """Follow placed orders until a batch comes back short; return how many.

    A short batch took every order there was (but those another process holds on
    PostgreSQL, which that one follows), so no empty follow-up transaction is run to see
    none left; an order committed meanwhile wakes its process's follower again.
    """
    total = 0
    while True:
        taken = await follow_placed_orders(db, batch=batch)
        total += taken
        if taken < batch:
            return total


class PlacedOrders:
    """This process's follower of placed orders: woken after a checkout, else every second.

    Woken, it first lets ``gather`` seconds pass, so that at a Saturday's checkout rate one
    follow-up transaction takes the orders of many checkouts (a writer turn on SQLite each)
    rather than one; the shopper's "order placed" message waits that much longer.
    """

    def __init__(self, db: Database, *, interval: float = 1.0, gather: float = 0.05) -> None:
        self.db = db
        self.interval = interval
        self.gather = gather
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Follow the orders just committed soon (called after a checkout's commit)."""
        self._wake.set()

    async def wake_after_commit(self) -> None:
        """``wake`` as an after-commit hook of an operation."""
        self.wake()

    async def run_forever(self) -> None:
        """Follow placed orders for ever; an error is logged and tried again next round."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
                await asyncio.sleep(self.gather)
            self._wake.clear()
            try:
                await follow_all(self.db)
            except Exception:  # the database away, say: try again next round
                log.exception("following placed orders failed")
