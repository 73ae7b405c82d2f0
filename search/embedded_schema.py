"""The tantivy schema of the embedded engine and how a ProductDocument becomes a tantivy document.

Text is folded and split into words in Python (``search.documents.words``) and indexed through
an analyzer that only splits on spaces. tantivy's own ``AsciiFoldingFilter`` agrees with
``fold_text`` on æ ø å ä ö but not on every letter (e.g. "İ"), and Meilisearch's normaliser
treats å ä ö as letters of their own when it detects Swedish, so one Python definition of a
word, used for indexing, querying and highlighting in both engines, is the only way they agree.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import tantivy

from search.documents import ProductDocument, folded_key, index_words, name_sort_key

#: Bump when the schema or the document mapping changes: the index is then rebuilt empty
#: on open and the server must reindex (``omnicart reindex``).
SCHEMA_VERSION = 1
WORDS_TOKENIZER = "omnicart_words"

#: Text fields searched by a text query, with the weight of a match in each (Meilisearch's
#: "attribute" rule: a match in the name beats one in the brand, and so on).
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 4),
    ("brand_words", 3),
    ("category_words", 2),
    ("description", 1),
)

_KEY_BITS = 32
_PRICE_OFFSET = 1 << 31
_ID_MASK = (1 << _KEY_BITS) - 1


def words_analyzer() -> tantivy.TextAnalyzer:
    """Return the analyzer for pre-folded word fields: split on spaces, drop absurd tokens."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.remove_long(255))
        .build()
    )


def build_schema() -> tantivy.Schema:
    """Return the schema: word fields for matching, raw fields for filters, facets and sorting."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    for name, _ in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=WORDS_TOKENIZER, index_option="basic")
    # Raw (untokenized) values: barcodes match exactly or by prefix, never by words.
    for name in ("barcodes", "brand_key", "category_keys"):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    # Original labels as fast fields: facet counts are terms aggregations over them.
    for name in ("brand", "categories", "name_sort"):
        builder.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_integer_field("price", indexed=True, fast=True)
    builder.add_unsigned_field("price_asc", fast=True)
    builder.add_unsigned_field("price_desc", fast=True)
    builder.add_integer_field("in_stock_at", indexed=True)
    builder.add_boolean_field("in_stock_online", indexed=True)
    builder.add_bytes_field("stored", stored=True)
    return builder.build()


_SCHEMA = build_schema()


def price_sort_keys(price: int, doc_id: int) -> tuple[int, int]:
    """Return keys ordering by (price, id) ascending and by (price descending, id ascending)."""
    if not 0 <= doc_id <= _ID_MASK:
        raise ValueError(f"product id {doc_id} is outside 0…{_ID_MASK}")
    if not -_PRICE_OFFSET <= price < _PRICE_OFFSET:
        raise ValueError(f"price {price} is outside ±{_PRICE_OFFSET} minor units")
    high = (price + _PRICE_OFFSET) << _KEY_BITS
    return high | doc_id, high | (_ID_MASK - doc_id)


def to_tantivy(doc: ProductDocument) -> tantivy.Document:
    """Return the tantivy document for ``doc``; the original is stored as JSON for ``get``."""
    name = " ".join(index_words(doc.name))
    price_asc, price_desc = price_sort_keys(doc.price, doc.id)
    fields: dict[str, Any] = {
        "id": doc.id,
        "name": name,
        "barcodes": list(doc.barcodes),
        "price": doc.price,
        "price_asc": price_asc,
        "price_desc": price_desc,
        # NUL sorts before every character, so "abc" < "abc def"; the id breaks ties.
        "name_sort": f"{name_sort_key(doc.name)}\x00{doc.id:010d}",
        "in_stock_at": list(doc.in_stock_at),
        "in_stock_online": doc.in_stock_online,
        "stored": json.dumps(doc.to_dict(), ensure_ascii=False).encode(),
    }
    description = " ".join(index_words(doc.description))
    if description:
        fields["description"] = description
    if doc.brand:
        fields["brand"] = doc.brand
        fields["brand_key"] = label_key(doc.brand)
        fields["brand_words"] = label_words(doc.brand)
    if doc.categories:
        fields["categories"] = list(doc.categories)
        fields["category_keys"] = [label_key(label) for label in doc.categories]
        fields["category_words"] = [label_words(label) for label in doc.categories]
    return tantivy.Document.from_dict(fields, _SCHEMA)


@lru_cache(maxsize=1 << 16)
def label_key(label: str) -> str:
    """Return ``folded_key(label)``, cached: brands and categories repeat across a catalogue."""
    return folded_key(label)


@lru_cache(maxsize=1 << 16)
def label_words(label: str) -> str:
    """Return the indexed words of a brand or category label, space-joined and cached."""
    return " ".join(index_words(label))


def from_stored(stored: tantivy.Document) -> ProductDocument:
    """Return the ProductDocument kept in a tantivy document's stored JSON."""
    raw = stored.get_first("stored")
    if not isinstance(raw, bytes):
        raise ValueError("indexed document has no stored copy")
    return ProductDocument.from_dict(json.loads(raw))
