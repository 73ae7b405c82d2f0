"""Alternatives to a product ("what else is on the shelf here"), ranked the same by both engines.

Engines only fetch candidates: the products sharing the product's most specific category and,
when those are fewer than asked for, the products sharing its parent category. The ranking is
here, in plain Python, so the embedded engine and Meilisearch give the same answer:

1. the most specific category before the parent category (a closer substitute first);
2. in stock at the shopper's store, before not;
3. in stock online, before not;
4. more name/brand words in common (Jaccard overlap of folded words), before fewer;
5. price closer to the product's price;
6. lower id (stable).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from search.documents import ProductDocument, words

#: Most candidates fetched per category tier; both engines take the lowest ids first.
MAX_CANDIDATES = 1000


def similarity_words(doc: ProductDocument) -> frozenset[str]:
    """Return the folded words of a product's name and brand, compared for similarity."""
    return frozenset(words(doc.name)) | frozenset(words(doc.brand))


def rank_alternatives(
    doc: ProductDocument,
    same_category: Sequence[ProductDocument],
    parent_category: Sequence[ProductDocument],
    *,
    store_id: int | None,
    limit: int,
) -> list[int]:
    """Given a product and candidates from its category and parent category, return the best ids.

    The product itself and duplicates are skipped; parent-category candidates are used only
    when the most specific category has fewer than ``limit`` other products.
    """
    if limit <= 0:
        return []
    own_words = similarity_words(doc)

    def key(tier: int, candidate: ProductDocument) -> tuple[int, bool, bool, Fraction, int, int]:
        theirs = similarity_words(candidate)
        union = own_words | theirs
        overlap = Fraction(len(own_words & theirs), len(union)) if union else Fraction(0)
        return (
            tier,
            not (store_id is not None and store_id in candidate.in_stock_at),
            not candidate.in_stock_online,
            -overlap,
            abs(candidate.price - doc.price),
            candidate.id,
        )

    seen = {doc.id}
    keyed: list[tuple[tuple[int, bool, bool, Fraction, int, int], int]] = []
    for candidate in same_category:
        if candidate.id not in seen:
            seen.add(candidate.id)
            keyed.append((key(0, candidate), candidate.id))
    if len(keyed) < limit:
        for candidate in parent_category:
            if candidate.id not in seen:
                seen.add(candidate.id)
                keyed.append((key(1, candidate), candidate.id))
    keyed.sort()
    return [candidate_id for _, candidate_id in keyed[:limit]]


def category_tiers(doc: ProductDocument) -> tuple[str | None, str | None]:
    """Return the product's most specific category and its parent (None where missing)."""
    specific = doc.categories[-1] if doc.categories else None
    parent = doc.categories[-2] if len(doc.categories) >= 2 else None
    return specific, parent
