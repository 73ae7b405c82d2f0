"""Goes well with: products most often bought together, counted as baskets come in.

Every placed order (and, through the same function, every till receipt) adds one to each
pair of its distinct products, both ways round (``a→b`` and ``b→a``), so the complements
of a product are one indexed read of its own rows. A basket counts its first
``MAX_BASKET`` distinct products (in id order), so a huge order costs a bounded number of
upserts (at most 12·11 rows); its rows are written in key order, so two baskets sharing
products lock their rows in the same order and never deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.db import per_dialect, upsert
from server.errors import InvalidInput
from server.models import CoPurchase, OrderLine, Product, StockLevel

MAX_BASKET = 12
MAX_COMPLEMENTS = 20


async def record_basket(session: AsyncSession, product_ids: Iterable[int]) -> int:
    """Count one more purchase together for every pair of the basket's products; return pairs."""
    return await record_baskets(session, [product_ids])


_PAIR_COLUMNS = ("product_id", "other_id", "count")


@per_dialect
def _count_pair(session: AsyncSession) -> Any:
    columns = CoPurchase.__table__.c
    stmt = upsert(session, CoPurchase).values(
        {name: bindparam(name, type_=columns[name].type) for name in _PAIR_COLUMNS}
    )
    return stmt.on_conflict_do_update(
        index_elements=[columns.product_id, columns.other_id],
        set_={"count": columns.count + stmt.excluded.count},
    )


async def record_baskets(session: AsyncSession, baskets: Iterable[Iterable[int]]) -> int:
    """Count the pairs of several baskets in one upsert (rows in key order); return pairs.

    A pair in more than one of them counts once per basket. The upsert is one statement,
    built once, with a parameter set per pair: not a VALUES row per pair, which would be a new
    statement to compile (and, on PostgreSQL, to prepare) for every number of pairs.
    """
    pairs: Counter[tuple[int, int]] = Counter()
    for product_ids in baskets:
        basket = sorted(set(product_ids))[:MAX_BASKET]
        pairs.update((a, b) for a in basket for b in basket if a != b)
    rows = [{"product_id": a, "other_id": b, "count": n} for (a, b), n in sorted(pairs.items())]
    if not rows:
        return 0
    await session.execute(_count_pair(session), rows)
    return len(rows)


async def complements_of(
    session: AsyncSession,
    product_ids: Sequence[int],
    location_id: int,
    *,
    first: int = 5,
) -> list[int]:
    """Return up to ``first`` products most often bought with these, available at the location.

    Ranked by how often they were bought together (summed over ``product_ids``), then by id;
    the products themselves, inactive ones and those with nothing available are left out.
    """
    if not product_ids or first <= 0:
        return []
    together = func.sum(CoPurchase.count)
    rows = await session.execute(
        select(CoPurchase.other_id)
        .join(Product, Product.id == CoPurchase.other_id)
        .join(
            StockLevel,
            (StockLevel.product_id == CoPurchase.other_id)
            & (StockLevel.location_id == location_id),
        )
        .where(
            CoPurchase.product_id.in_(product_ids),
            CoPurchase.other_id.not_in(product_ids),
            Product.active.is_(True),
            StockLevel.on_hand - StockLevel.reserved > 0,
        )
        .group_by(CoPurchase.other_id)
        .order_by(together.desc(), CoPurchase.other_id)
        .limit(min(first, MAX_COMPLEMENTS))
    )
    return [pid for (pid,) in rows]


async def order_product_ids(session: AsyncSession, order_id: int) -> list[int]:
    """Return the distinct products of an order, in line order."""
    rows = await session.execute(
        select(OrderLine.product_id).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
    )
    return list(dict.fromkeys(pid for (pid,) in rows))


async def complements_at(
    session: AsyncSession, product_id: int, store_id: int | None, first: int
) -> list[int]:
    """Return a product's complements in stock at a store (the online warehouse for None).

    Raises InvalidInput for ``first`` outside 0–20; an unknown store has none.
    """
    if not 0 <= first <= MAX_COMPLEMENTS:
        raise InvalidInput(f"Ask for 0 to {MAX_COMPLEMENTS} complements.", field="first")
    location = await catalog.location_for_store(session, store_id)
    if location is None:
        return []
    return await complements_of(session, [product_id], location.id, first=first)
