"""How the embedded engine turns a search request into tantivy queries, pages and facets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import tantivy
from tantivy import Occur, Order, Query

from search.documents import folded_key
from search.embedded_schema import TEXT_FIELDS
from search.engine import SearchRequest
from search.query import QueryPlan, sorted_facet

# Score of one query word's match: fewer typos dominate, then the field, then exactness.
# Ten words at most keep every sum an exact integer in tantivy's f32 scores.
_TYPO_STEP = 10_000.0
_FIELD_STEP = 100.0
_FACET_TERMS = 10_000
_FACET_FIELDS = {"brand": "brand", "category": "categories"}
_SORT_KEYS: dict[str, tuple[str, Order]] = {
    "price_asc": ("price_asc", Order.Asc),
    "price_desc": ("price_desc", Order.Desc),
    "name": ("name_sort", Order.Asc),
}


def word_score(typos: int, field_weight: int, exact: bool) -> float:
    """Return the constant score of one query word matching in one field."""
    return (2 - typos) * _TYPO_STEP + field_weight * _FIELD_STEP + (1.0 if exact else 0.0)


def text_query(schema: tantivy.Schema, plan: QueryPlan) -> Query:
    """Return a query every word of ``plan`` must match; its score is the sum of word scores."""
    per_word: list[tuple[Occur, Query]] = []
    for word in plan.words:
        clauses: list[Query] = []
        for field, weight in TEXT_FIELDS:
            exact = Query.term_query(schema, field, word.text, index_option="basic")
            clauses.append(Query.const_score_query(exact, word_score(0, weight, True)))
            if word.prefix:
                starts = Query.fuzzy_term_query(schema, field, word.text, distance=0, prefix=True)
                clauses.append(Query.const_score_query(starts, word_score(0, weight, False)))
            for typos in range(1, word.max_typos + 1):
                fuzzy = Query.fuzzy_term_query(
                    schema,
                    field,
                    word.text,
                    distance=typos,
                    transposition_cost_one=True,
                    prefix=word.prefix,
                )
                clauses.append(Query.const_score_query(fuzzy, word_score(typos, weight, False)))
        per_word.append((Occur.Must, Query.disjunction_max_query(clauses)))
    return Query.boolean_query(per_word)


def barcode_queries(schema: tantivy.Schema, plan: QueryPlan) -> tuple[Query, Query]:
    """Return queries for products carrying the code exactly and for codes starting with it."""
    exact = Query.term_set_query(schema, "barcodes", list(plan.barcode_forms))
    prefix = Query.regex_query(schema, "barcodes", re.escape(plan.barcode) + ".*")
    return exact, prefix


def filter_queries(schema: tantivy.Schema, req: SearchRequest) -> list[Query]:
    """Return one query per filter of ``req``; a match must satisfy all of them."""
    filters: list[Query] = []
    if req.categories:
        keys = [folded_key(label) for label in req.categories]
        filters.append(Query.term_set_query(schema, "category_keys", keys))
    if req.brands:
        keys = [folded_key(brand) for brand in req.brands]
        filters.append(Query.term_set_query(schema, "brand_key", keys))
    if req.price_min is not None or req.price_max is not None:
        filters.append(
            Query.range_query(
                schema, "price", tantivy.FieldType.Integer, req.price_min, req.price_max
            )
        )
    if req.in_stock_at is not None:
        filters.append(Query.term_query(schema, "in_stock_at", req.in_stock_at))
    return filters


def filtered(query: Query, filters: list[Query]) -> Query:
    """Return ``query`` restricted by ``filters``, which score 0 so they never reorder matches."""
    if not filters:
        return query
    clauses = [(Occur.Must, query)]
    clauses += [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters]
    return Query.boolean_query(clauses)


def page(
    searcher: tantivy.Searcher, query: Query, sort: str, scored: bool, offset: int, limit: int
) -> tuple[list[Any], int]:
    """Return the addresses of one page and the total number of matches.

    Relevance orders by (score, id) when the query scores, by id otherwise; the other sorts
    use the (price|name, id) keys of the schema.
    """
    if limit <= 0:
        # tantivy refuses a limit of 0, so count with the smallest page.
        return [], _count(searcher.search(query, limit=1, count=True))
    if sort == "relevance" and scored:
        return _relevance_page(searcher, query, offset, limit)
    field, order = _SORT_KEYS.get(sort, ("id", Order.Asc))
    result = searcher.search(
        query, limit=limit, offset=offset, count=True, order_by_field=field, order=order
    )
    return [address for _, address in result.hits], _count(result)


def facet_counts(
    searcher: tantivy.Searcher, query: Query, names: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """Return exact brand/category counts over every match, via terms aggregations."""
    if not names:
        return {}
    spec = {
        name: {
            "terms": {
                "field": _FACET_FIELDS[name],
                "size": _FACET_TERMS,
                "segment_size": _FACET_TERMS,
            }
        }
        for name in names
    }
    result = searcher.aggregate(query, spec)
    return {
        name: sorted_facet(
            {bucket["key"]: int(bucket["doc_count"]) for bucket in result[name]["buckets"]}
        )
        for name in names
    }


def category_members_query(
    schema: tantivy.Schema, category: str, *, exclude: str | None, doc_id: int
) -> Query:
    """Return products in ``category`` (not in ``exclude``), except the product ``doc_id``."""
    clauses = [
        (Occur.Must, Query.term_query(schema, "category_keys", folded_key(category))),
        (Occur.MustNot, Query.term_query(schema, "id", doc_id)),
    ]
    if exclude is not None:
        excluded = Query.term_query(schema, "category_keys", folded_key(exclude))
        clauses.append((Occur.MustNot, excluded))
    return Query.boolean_query(clauses)


def _count(result: tantivy.SearchResult) -> int:
    # ``count`` is missing from tantivy's type stubs; searches here always ask for it.
    return int(getattr(result, "count", 0) or 0)


def _relevance_page(
    searcher: tantivy.Searcher, query: Query, offset: int, limit: int
) -> tuple[list[Any], int]:
    """Return the page ordered by (score desc, id asc) and the total.

    tantivy orders equal scores by internal address, not id. The top ``offset + limit`` hits
    are exact by score; only when the last score of the page continues past it are all hits
    of that score fetched, so their ids can decide.
    """
    wanted = offset + limit
    first = searcher.search(query, limit=wanted + 1, count=True)
    total, hits = _count(first), first.hits
    if len(hits) > wanted and hits[wanted][0] == hits[wanted - 1][0]:
        boundary = hits[wanted - 1][0]
        size = wanted + 1
        while size < total and hits[-1][0] >= boundary:
            size = min(size * 4, total)
            hits = searcher.search(query, limit=size, count=False).hits
    ids = searcher.fast_field_values("id", [address for _, address in hits])
    ranked = sorted(zip(hits, ids, strict=True), key=lambda item: (-item[0][0], item[1]))
    return [address for (_, address), _ in ranked[offset:wanted]], total
