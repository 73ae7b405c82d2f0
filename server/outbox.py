"""Writing to the transactional outbox: changes recorded in the same transaction as the data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import OutboxEvent, utcnow

# A change of a product's data or price: its read-model page is out of date until the
# indexer drains the row, so reads meanwhile take the catalog tables (``server.page_reads``).
PRODUCT_TOPIC = "product"
# A change of its stock only: the indexer follows it too (search filters on stock), but the
# page stays usable meanwhile, since a page bakes in no stock (reads join it live).
STOCK_TOPIC = "product_stock"
# What the indexer drains.
INDEXED_TOPICS = (PRODUCT_TOPIC, STOCK_TOPIC)
# Where a session collects the products its transaction changed, for the after-commit notice.
_CHANGED = "omnicart_changed_products"
# Built once: a Core INSERT executed with one parameter set per row (executemany).
_INSERT = insert(cast(Table, OutboxEvent.__table__))


def pending_change(product_id: str) -> str:
    """Return SQL true while a change of the product (its column ``product_id``) not only of
    its stock is still in the outbox: its page may be out of date, read the catalog tables."""
    return (
        f"EXISTS (SELECT 1 FROM outbox_events o WHERE o.topic = '{PRODUCT_TOPIC}' "
        f"AND o.entity_id = {product_id})"
    )


async def record_product_changes(
    session: AsyncSession,
    product_ids: Iterable[int],
    *,
    stock_only: bool = False,
    also: Sequence[tuple[str, int]] = (),
) -> None:
    """Note that these products changed (data, price or stock) so the search index follows.

    Runs inside the caller's transaction: when it rolls back, the note goes with it, and
    when it commits, the indexer is sure to see the change even after a crash.
    ``stock_only`` says only their stock changed (``STOCK_TOPIC``), which leaves their
    pages usable. ``also`` adds rows of other topics, ``(topic, entity id)``, to the same
    INSERT (a placed order for ``server.orders.placed``).
    """
    ids = note_changed_products(session, product_ids)
    if not ids and not also:
        return
    now = utcnow()
    topic = STOCK_TOPIC if stock_only else PRODUCT_TOPIC
    rows = [(topic, pid) for pid in ids] + list(also)
    params: list[dict[str, Any]] = [
        {"topic": topic, "entity_id": entity_id, "payload": {}, "created_at": now}
        for topic, entity_id in rows
    ]
    await session.execute(_INSERT, params)


def note_changed_products(session: AsyncSession, product_ids: Iterable[int]) -> list[int]:
    """Note the products for the after-commit notice, without their outbox rows; return them.

    For a caller that writes the rows in a statement of its own (a checkout on PostgreSQL
    inserts them with its order); ``record_product_changes`` does both.
    """
    ids = sorted(set(product_ids))
    if ids:
        session.info.setdefault(_CHANGED, set()).update(ids)
    return ids


def take_changed_products(session: AsyncSession) -> set[int]:
    """Return (and forget) the products this session's transaction recorded as changed.

    The operation announces them once its transaction has committed
    (``server.events.announce_product_changes``) and a rollback forgets them. A change undone
    by a savepoint may still be announced: a notice only says "read again", so that is safe.
    """
    changed: set[int] = session.info.pop(_CHANGED, set())
    return changed
