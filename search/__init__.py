"""Product search behind one interface: the embedded tantivy engine or Meilisearch.

The server builds ``ProductDocument``s and calls a ``SearchEngine`` made by ``create_engine``;
nothing here knows about GraphQL or the database.
"""

from search.alternatives import rank_alternatives
from search.documents import ProductDocument, fold_text, words
from search.engine import (
    EngineHealth,
    QueryTooLong,
    SearchEngine,
    SearchEngineError,
    SearchEngineUnavailable,
    SearchError,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from search.factory import create_engine

__all__ = [
    "EngineHealth",
    "ProductDocument",
    "QueryTooLong",
    "SearchEngine",
    "SearchEngineError",
    "SearchEngineUnavailable",
    "SearchError",
    "SearchHit",
    "SearchRequest",
    "SearchResponse",
    "create_engine",
    "fold_text",
    "rank_alternatives",
    "words",
]
