"""The embedded search engine: tantivy in-process, the index in a directory of the data dir.

tantivy is synchronous, so every call runs in a worker thread; one lock guards the single
index writer. Every write commits and reloads the searcher, so a search right after
``index()`` sees the new documents.

Any number of processes may open one index directory at once (web workers read it, one
process writes it): opening checks the schema marker and, when it is stale, empties and
rebuilds the index under a file lock in the directory (``.omnicart-search.lock``), and the
marker is replaced by a rename, so no process ever reads it half written and wipes a current
index.

Relevance for text queries copies Meilisearch's bucket order with constant scores: per query
word the best of its matches counts (exact word, prefix, 1 typo, 2 typos — in name, brand,
categories or description), and the word scores are summed, so fewer typos always win, then
the better field, then exact words over prefixes. Equal scores are ordered by id, so pages are
stable. Barcode and empty queries order by id; other sorts by (price|name, id) keys.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import tantivy
from filelock import FileLock, Timeout
from tantivy import Occur, Order, Query

from search.alternatives import MAX_CANDIDATES, category_tiers, rank_alternatives
from search.documents import ProductDocument
from search.embedded_query import (
    barcode_queries,
    category_members_query,
    facet_counts,
    filter_queries,
    filtered,
    page,
    text_query,
)
from search.embedded_schema import (
    SCHEMA_VERSION,
    WORDS_TOKENIZER,
    build_schema,
    from_stored,
    to_tantivy,
    words_analyzer,
)
from search.engine import (
    EngineHealth,
    SearchEngineError,
    SearchEngineUnavailable,
    SearchError,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from search.query import QueryPlan, highlight_name, plan_query, split_page

T = TypeVar("T")

ENGINE_NAME = "embedded (tantivy)"
_MARKER = "omnicart-search.json"
_OPEN_LOCK = ".omnicart-search.lock"
OPEN_LOCK_SECONDS = 30.0  # how long opening waits for another process's open or rebuild
_TANTIVY_FILE = re.compile(r"^(meta\.json|\.managed\.json|\.tantivy-.*\.lock|[0-9a-f]{32}\..+)$")


class EmbeddedEngine:
    """The default SearchEngine: a tantivy index at ``path``, searched in-process."""

    def __init__(
        self, path: Path, *, writer_heap_bytes: int = 128_000_000, writer_threads: int = 0
    ) -> None:
        self.path = Path(path)
        self._writer_heap = writer_heap_bytes
        self._writer_threads = writer_threads
        self._schema = build_schema()
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    async def ensure_ready(self) -> None:
        """Open (or create) the index; an index of an older schema is rebuilt empty."""
        await self._run(self._open)

    async def close(self) -> None:
        """Finish merges, release the writer lock and refuse further calls."""
        await anyio.to_thread.run_sync(self._close)

    async def health(self) -> EngineHealth:
        """Report whether the index opens and how many documents it holds; never raises."""
        try:
            documents = await self.count()
        except SearchError as error:
            return EngineHealth(ok=False, engine=ENGINE_NAME, detail=str(error))
        return EngineHealth(ok=True, engine=ENGINE_NAME, detail=str(self.path), documents=documents)

    # -- writes ------------------------------------------------------------------------

    async def index(self, docs: Sequence[ProductDocument]) -> None:
        """Add or replace ``docs`` by id and commit (the last of duplicate ids wins)."""
        latest = {doc.id: doc for doc in docs}
        if latest:
            await self._run(lambda: self._write(list(latest), list(latest.values())))

    async def delete(self, ids: Iterable[int]) -> None:
        """Remove the documents with these ids and commit."""
        unique = sorted(set(ids))
        if unique:
            await self._run(lambda: self._write(unique, []))

    async def clear(self) -> None:
        """Remove every document and commit."""
        await self._run(self._clear)

    # -- reads -------------------------------------------------------------------------

    async def count(self) -> int:
        """Return the number of documents in the index."""
        return await self._run(lambda: int(self._open().searcher().num_docs))

    async def get(self, id: int) -> ProductDocument | None:
        """Return the stored document with this id, or None."""
        return await self._run(lambda: self._get(id))

    async def search(self, req: SearchRequest) -> SearchResponse:
        """Answer one search request (see ``search.query`` for how the query is read)."""
        plan = plan_query(req.query)
        return await self._run(lambda: self._search(req, plan))

    async def similar(self, doc: ProductDocument, *, store_id: int | None, limit: int) -> list[int]:
        """Return ids of alternatives to ``doc`` ranked by ``rank_alternatives``."""
        return await self._run(lambda: self._similar(doc, store_id, limit))

    # -- internals: opening and writing --------------------------------------------------

    async def _run(self, func: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(func)

    def _open(self) -> tantivy.Index:
        index = self._index
        if index is not None:
            return index
        with self._lock:
            if self._closed:
                raise SearchEngineUnavailable("The embedded search engine has been closed.")
            if self._index is not None:
                return self._index
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                # Other processes (workers, `omnicart indexer`, `reindex`) may open the same
                # directory at this moment: the check and any rebuild happen under one lock.
                with FileLock(
                    self.path / _OPEN_LOCK, timeout=OPEN_LOCK_SECONDS, poll_interval=0.01
                ):
                    index = self._open_locked()
            except Timeout as error:
                raise SearchEngineUnavailable(
                    f"Cannot open the search index at {self.path}: another process has held "
                    f"{_OPEN_LOCK} for over {OPEN_LOCK_SECONDS:.0f} s."
                ) from error
            except (OSError, ValueError) as error:
                raise SearchEngineUnavailable(
                    f"Cannot open the search index at {self.path}: {error}"
                ) from error
            self._index = index
            return index

    def _open_locked(self) -> tantivy.Index:
        """Open the index, first emptying one of another schema; hold the open lock to call."""
        current = tantivy.Index.exists(str(self.path)) and self._is_current()
        if not current:
            self._remove_index_files()
        index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
        index.register_tokenizer(WORDS_TOKENIZER, words_analyzer())
        index.config_reader("OnCommit")
        if not current:
            self._write_marker()
        return index

    def _is_current(self) -> bool:
        try:
            marker = json.loads((self.path / _MARKER).read_text())
            return bool(
                marker.get("schema_version") == SCHEMA_VERSION
                and tantivy.Index.is_compatible(str(self.path))
            )
        except (OSError, ValueError):
            return False

    def _write_marker(self) -> None:
        # A reader never sees a half-written marker: write a temporary file, then rename it.
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path, prefix=f".{_MARKER}.", suffix=".tmp", delete=False
        ) as temporary:
            try:
                json.dump({"schema_version": SCHEMA_VERSION}, temporary)
                temporary.flush()
                os.fsync(temporary.fileno())
            except BaseException:
                os.unlink(temporary.name)
                raise
        os.replace(temporary.name, self.path / _MARKER)

    def _remove_index_files(self) -> None:
        # Only tantivy's own files: the directory may be one the operator chose.
        for entry in self.path.iterdir():
            if entry.is_file() and _TANTIVY_FILE.match(entry.name):
                entry.unlink()

    def _writer_for(self, index: tantivy.Index) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = index.writer(self._writer_heap, self._writer_threads)
            except ValueError as error:
                raise SearchEngineError(
                    f"Cannot write the search index at {self.path} (is another process "
                    f"writing it?): {error}"
                ) from error
        return self._writer

    def _write(self, delete_ids: list[int], docs: list[ProductDocument]) -> None:
        converted = [to_tantivy(doc) for doc in docs]
        with self._lock:
            index = self._open()
            writer = self._writer_for(index)
            try:
                # One delete for the batch; it removes only documents added before it, so
                # the replacements added next survive.
                writer.delete_documents_by_query(
                    Query.term_set_query(self._schema, "id", delete_ids)
                )
                for document in converted:
                    writer.add_document(document)
                writer.commit()
            except (OSError, ValueError) as error:
                writer.rollback()
                raise SearchEngineError(f"Writing the search index failed: {error}") from error
            index.reload()

    def _clear(self) -> None:
        with self._lock:
            index = self._open()
            writer = self._writer_for(index)
            writer.delete_all_documents()
            writer.commit()
            index.reload()

    def _close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
            self._writer = None
            self._index = None
            self._closed = True

    # -- internals: reading ---------------------------------------------------------------

    def _get(self, doc_id: int) -> ProductDocument | None:
        searcher = self._open().searcher()
        hits = searcher.search(Query.term_query(self._schema, "id", doc_id), limit=1).hits
        return from_stored(searcher.doc(hits[0][1])) if hits else None

    def _search(self, req: SearchRequest, plan: QueryPlan) -> SearchResponse:
        started = time.perf_counter()
        searcher = self._open().searcher()
        filters = filter_queries(self._schema, req)
        pages: list[Any]
        if plan.kind == "barcode":
            exact, prefix = barcode_queries(self._schema, plan)
            first = filtered(exact, filters)
            second = filtered(
                Query.boolean_query([(Occur.Must, prefix), (Occur.MustNot, exact)]), filters
            )
            # Exact codes first, then prefixes: the page may span both groups.
            pages, first_total = page(searcher, first, req.sort, False, req.offset, req.limit)
            _, _, second_offset, second_limit = split_page(req.offset, req.limit, first_total)
            more, second_total = page(
                searcher, second, req.sort, False, second_offset, second_limit
            )
            pages += more
            total = first_total + second_total
            matching = filtered(
                Query.boolean_query([(Occur.Should, exact), (Occur.Should, prefix)]), filters
            )
        else:
            scored = plan.kind == "text"
            matching = filtered(
                text_query(self._schema, plan) if scored else Query.all_query(), filters
            )
            pages, total = page(searcher, matching, req.sort, scored, req.offset, req.limit)
        hits = []
        for address in pages:
            doc = from_stored(searcher.doc(address))
            hits.append(SearchHit(id=doc.id, highlight=highlight_name(doc.name, plan)))
        facets = (
            facet_counts(searcher, matching, req.facets)
            if total
            else {name: [] for name in req.facets}
        )
        elapsed = int((time.perf_counter() - started) * 1000)
        return SearchResponse(hits=hits, total=total, facets=facets, processing_time_ms=elapsed)

    def _similar(self, doc: ProductDocument, store_id: int | None, limit: int) -> list[int]:
        specific, parent = category_tiers(doc)
        if specific is None or limit <= 0:
            return []
        searcher = self._open().searcher()
        same = self._category_members(searcher, specific, exclude=None, doc_id=doc.id)
        broader: list[ProductDocument] = []
        if parent is not None and len(same) < limit:
            broader = self._category_members(searcher, parent, exclude=specific, doc_id=doc.id)
        return rank_alternatives(doc, same, broader, store_id=store_id, limit=limit)

    def _category_members(
        self, searcher: tantivy.Searcher, category: str, *, exclude: str | None, doc_id: int
    ) -> list[ProductDocument]:
        query = category_members_query(self._schema, category, exclude=exclude, doc_id=doc_id)
        result = searcher.search(
            query, limit=MAX_CANDIDATES, count=False, order_by_field="id", order=Order.Asc
        )
        return [from_stored(searcher.doc(address)) for _, address in result.hits]
