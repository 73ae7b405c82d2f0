"""Writing to the transactional outbox: changes recorded in the same transaction as the data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import OutboxEvent, utcnow

PRODUCT_TOPIC = "product"
# Where a session collects the products its transaction changed, for the after-commit notice.
_CHANGED = "omnicart_changed_products"


async def record_product_changes(
    session: AsyncSession,
    product_ids: Iterable[int],
    *,
    also: Sequence[tuple[str, int]] = (),
) -> None:
    """Note that these products changed (data, price or stock) so the search index follows.

    Runs inside the caller's transaction: when it rolls back, the note goes with it, and
    when it commits, the indexer is sure to see the change even after a crash. ``also``
    adds rows of other topics, ``(topic, entity id)``, to the same multi-row INSERT (a
    placed order for ``server.orders.placed``).
    """
    ids = sorted(set(product_ids))
    if not ids and not also:
        return
    if ids:
        session.info.setdefault(_CHANGED, set()).update(ids)
    now = utcnow()
    rows = [(PRODUCT_TOPIC, pid) for pid in ids] + list(also)
    await session.execute(
        insert(OutboxEvent),
        [
            {"topic": topic, "entity_id": entity_id, "payload": {}, "created_at": now}
            for topic, entity_id in rows
        ],
    )


def take_changed_products(session: AsyncSession) -> set[int]:
    """Return (and forget) the products this session's transaction recorded as changed.

    The operation announces them once its transaction has committed
    (``server.events.announce_product_changes``) and a rollback forgets them. A change undone
    by a savepoint may still be announced: a notice only says "read again", so that is safe.
    """
    changed: set[int] = session.info.pop(_CHANGED, set())
    return changed
