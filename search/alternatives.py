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

Rules 1 and 4–6 do not depend on stock, so they can be worked out ahead of time:
``ranked_candidates`` orders a product's candidates by them once (the read model keeps that
list per product, ``server.alternatives``), and a request only orders that list by rules 2
and 3 over live stock, keeping the precomputed order within each group (the same order
``rank_alternatives`` gives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from search.documents import ProductDocument, folded_key, words

#: Most candidates fetched per category tier; both engines take the lowest ids first.
MAX_CANDIDATES = 1000
#: Most alternatives asked for at once: the parent tier matters only below this many.
MAX_ALTERNATIVES = 20


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the stock-free rules need of a product: id, category keys, similarity words, price."""

    id: int
    category_keys: frozenset[str]
    words: frozenset[str]
    price: int


def static_key(own: Candidate, tier: int, candidate: Candidate) -> tuple[int, Fraction, int, int]:
    """Return rules 1 and 4–6 for ``candidate`` as an alternative to ``own``."""
    union = own.words | candidate.words
    overlap = Fraction(len(own.words & candidate.words), len(union)) if union else Fraction(0)
    return (tier, -overlap, abs(candidate.price - own.price), candidate.id)


def ranked_candidates(
    own: Candidate,
    specific: str | None,
    parent: str | None,
    members: Mapping[str, Sequence[Candidate]],
    *,
    parent_below: int = MAX_ALTERNATIVES,
) -> list[tuple[int, int]]:
    """Return ``own``'s candidates as (id, tier), ordered by the stock-free rules.

    ``members`` maps a folded category key to its products in id order. The tiers are those
    the engines fetch (``category_tiers``, up to ``MAX_CANDIDATES`` lowest ids each); the
    parent tier is kept only when the specific one has fewer than ``parent_below`` others.
    """
    if specific is None:
        return []
    specific_key = folded_key(specific)
    same = [c for c in members.get(specific_key, ()) if c.id != own.id][:MAX_CANDIDATES]
    broader: list[Candidate] = []
    if parent is not None and len(same) < parent_below:
        broader = [
            c
            for c in members.get(folded_key(parent), ())
            if c.id != own.id and specific_key not in c.category_keys
        ][:MAX_CANDIDATES]
    keyed = [(static_key(own, 0, c), c.id, 0) for c in same]
    keyed += [(static_key(own, 1, c), c.id, 1) for c in broader]
    keyed.sort()
    return [(candidate_id, tier) for _, candidate_id, tier in keyed]


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
