"""Alternatives in the read model: each product's candidates ranked once, at index time.

``search.alternatives`` has the rules. Those that do not depend on stock (category tier,
similarity of names and brands, price distance, id) are worked out here, when the indexer
writes the pages, into ``product_alternatives``: one row per candidate with its position.
A page read then orders that list by live stock at the store and online on top, in one
indexed statement (``server.page_reads``), with no search-engine call and no ``Fraction``
arithmetic on the request path.

Which lists are written again: a product's list depends on the name, brand, categories and
price of the products in its category and parent category. When a drained product's page
changes in any of those (or it appears or goes), every product whose own or parent category
the product had or has gets its list again, from the pages as stored after the batch; a
stock-only change (most of them) rewrites none, since stock is read live. ``omnicart
reindex`` rebuilds every list.

The price compared is the price in force when the list is written (as the search index keeps
it), not at the moment of the read: a campaign that starts or ends moves alternatives only
once one of them is indexed again. With several indexers on PostgreSQL, two batches touching
one category at once each see the other's pages as before it: the list is right again after
that category's next change or reindex.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from search.alternatives import Candidate, ranked_candidates
from search.documents import folded_key, words
from server.models import ProductAlternative, ProductPage, utcnow
from server.product_pages import PageData, decode_page

_INSERT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Ranked:
    """A product as the stock-free rules see it, with its category tiers."""

    candidate: Candidate
    specific: str | None  # the most specific category label
    parent: str | None

    @property
    def keys(self) -> tuple[str | None, str | None]:
        """Return the folded keys of its specific and parent categories."""
        return (
            folded_key(self.specific) if self.specific is not None else None,
            folded_key(self.parent) if self.parent is not None else None,
        )


def ranked_of(page: PageData, moment: datetime) -> Ranked:
    """Return what the rules compare of a product's page, its price as in force at ``moment``."""
    categories = page.categories
    candidate = Candidate(
        page.product_id,
        frozenset(folded_key(c) for c in categories),
        frozenset(words(page.name)) | frozenset(words(page.brand)),
        page.price_at(moment).current,
    )
    specific = categories[-1] if categories else None
    parent = categories[-2] if len(categories) >= 2 else None
    return Ranked(candidate, specific, parent)


def members_of(snapshot: Mapping[int, Ranked]) -> dict[str, list[Candidate]]:
    """Return each folded category key's products, in id order."""
    members: dict[str, list[Candidate]] = {}
    for product_id in sorted(snapshot):
        candidate = snapshot[product_id].candidate
        for key in candidate.category_keys:
            members.setdefault(key, []).append(candidate)
    return members


def list_of(ranked: Ranked, members: Mapping[str, Sequence[Candidate]]) -> list[tuple[int, int]]:
    """Return a product's candidates as (id, tier) in the order of the stock-free rules."""
    return ranked_candidates(ranked.candidate, ranked.specific, ranked.parent, members)


async def _snapshot(session: AsyncSession, moment: datetime) -> dict[int, Ranked]:
    rows = await session.execute(select(ProductPage.product_id, ProductPage.document))
    return {pid: ranked_of(decode_page(document), moment) for pid, document in rows}


async def _write_lists(
    session: AsyncSession,
    product_ids: Iterable[int],
    snapshot: Mapping[int, Ranked],
    *,
    everything: bool = False,
) -> None:
    ids = sorted(set(product_ids))
    if everything:
        await session.execute(delete(ProductAlternative))
    else:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await session.execute(
                delete(ProductAlternative).where(ProductAlternative.product_id.in_(chunk))
            )
    members = members_of(snapshot)
    rows = [
        {"product_id": pid, "position": position, "candidate_id": cid, "tier": tier}
        for pid in ids
        if pid in snapshot
        for position, (cid, tier) in enumerate(list_of(snapshot[pid], members))
    ]
    for start in range(0, len(rows), _INSERT_CHUNK):
        await session.execute(insert(ProductAlternative), rows[start : start + _INSERT_CHUNK])


def _rank_fields(page: PageData | None, moment: datetime) -> object:
    if page is None:
        return None
    return (page.name, page.brand, page.categories, page.price_at(moment).current)


async def stored_pages(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, PageData]:
    """Return the pages stored now for these products (those that have one)."""
    ids = sorted(set(product_ids))
    found: dict[int, PageData] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(ProductPage.product_id, ProductPage.document).where(
                ProductPage.product_id.in_(ids[start : start + 500])
            )
        )
        found.update({pid: decode_page(document) for pid, document in rows})
    return found


async def refresh_alternatives(
    session: AsyncSession,
    before: Mapping[int, PageData],
    pages: Sequence[PageData],
    gone: Iterable[int],
) -> int:
    """Write again the lists a batch's page changes touch; return how many were written.

    ``before`` holds the batch's pages as stored before it, ``pages`` and ``gone`` what it
    wrote; call after writing them. Flushes only.
    """
    moment = utcnow()
    after = {p.product_id: p for p in pages}
    touched = set(before) | set(after) | set(gone)
    changed = [
        pid
        for pid in touched
        if _rank_fields(before.get(pid), moment) != _rank_fields(after.get(pid), moment)
    ]
    if not changed:
        return 0
    keys: set[str] = set()
    for pid in changed:
        for page in (before.get(pid), after.get(pid)):
            if page is not None:
                keys.update(folded_key(c) for c in page.categories)
    snapshot = await _snapshot(session, moment)
    affected = set(changed) | {
        pid for pid, ranked in snapshot.items() if any(k in keys for k in ranked.keys)
    }
    await _write_lists(session, affected, snapshot)
    return len(affected)


async def rebuild_alternatives(session: AsyncSession) -> int:
    """Write every product's list again from the stored pages; return how many products."""
    snapshot = await _snapshot(session, utcnow())
    await _write_lists(session, snapshot, snapshot, everything=True)
    return len(snapshot)
