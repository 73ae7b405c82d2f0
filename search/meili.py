"""The Meilisearch engine, for set-ups that outgrow one machine (``OMNICART_SEARCH_URL=http://…``).

Every settings change and document write is a task that is awaited; a failed task raises
SearchEngineError, an unreachable server SearchEngineUnavailable. What is sent (settings,
documents with folded search fields, filters) is in ``search.meili_requests``. Highlights
are computed in Python from the stored name (``search.query.highlight_name``), identical to
the embedded engine's. Totals use page/hitsPerPage, which Meilisearch counts exhaustively up
to ``max_total_hits``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchApiError
from meilisearch_python_sdk.models.task import TaskInfo

from search.alternatives import MAX_CANDIDATES, category_tiers, rank_alternatives
from search.documents import ProductDocument, folded_key
from search.engine import (
    EngineHealth,
    SearchEngineError,
    SearchEngineUnavailable,
    SearchError,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from search.meili_requests import (
    DOC_FIELDS,
    FACET_ATTRIBUTES,
    INDEX_BATCH,
    SORTS,
    TEXT_ATTRIBUTES,
    filter_expressions,
    index_settings,
    page_window,
    quote,
    to_meili_document,
    translated_errors,
)
from search.query import QueryPlan, highlight_name, plan_query, sorted_facet, split_page

ENGINE_NAME = "meilisearch"


class MeiliEngine:
    """A SearchEngine on a Meilisearch server through meilisearch-python-sdk's AsyncClient."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        index_uid: str = "products",
        *,
        timeout_seconds: int = 10,
        task_timeout_ms: int = 120_000,
        max_total_hits: int = 100_000,
    ) -> None:
        self.url = url
        self.index_uid = index_uid
        self._client = AsyncClient(url, api_key, timeout=timeout_seconds)
        self._index = self._client.index(index_uid)
        self._task_timeout_ms = task_timeout_ms
        self._max_total_hits = max_total_hits
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    async def ensure_ready(self) -> None:
        """Create the index if missing and apply ``index_settings``; wait for both tasks."""
        with self._answering("open the index"):
            try:
                await self._client.get_index(self.index_uid)
            except MeilisearchApiError as error:
                if error.code != "index_not_found":
                    raise
                await self._client.create_index(self.index_uid, primary_key="id")
            task = await self._index.update_settings(index_settings(self._max_total_hits))
            await self._wait(task, "apply the index settings")

    async def close(self) -> None:
        """Close the HTTP connections; later calls raise SearchEngineUnavailable."""
        if not self._closed:
            self._closed = True
            await self._client.aclose()

    async def delete_index(self) -> None:
        """Delete the whole index (settings included); used by tests and by hand."""
        with self._answering("delete the index"):
            await self._wait(await self._index.delete(), "delete the index")

    async def health(self) -> EngineHealth:
        """Report whether the server answers and the index exists; never raises."""
        try:
            with self._answering("report its health"):
                status = await self._client.health()
                stats = await self._index.get_stats()
        except SearchError as error:
            return EngineHealth(ok=False, engine=ENGINE_NAME, detail=str(error))
        return EngineHealth(
            ok=status.status == "available",
            engine=ENGINE_NAME,
            detail=f"{self.url} index {self.index_uid}",
            documents=stats.number_of_documents,
        )

    # -- writes ------------------------------------------------------------------------

    async def index(self, docs: Sequence[ProductDocument]) -> None:
        """Add or replace ``docs`` by id; return when Meilisearch has indexed them."""
        with self._answering("index documents"):
            tasks = []
            for start in range(0, len(docs), INDEX_BATCH):
                batch = [to_meili_document(doc) for doc in docs[start : start + INDEX_BATCH]]
                tasks.append(await self._index.add_documents(batch, primary_key="id"))
            for task in tasks:
                await self._wait(task, "index documents")

    async def delete(self, ids: Iterable[int]) -> None:
        """Remove the documents with these ids."""
        unique = sorted(set(ids))
        if unique:
            with self._answering("delete documents"):
                task = await self._index.delete_documents([str(doc_id) for doc_id in unique])
                await self._wait(task, "delete documents")

    async def clear(self) -> None:
        """Remove every document."""
        with self._answering("delete all documents"):
            await self._wait(await self._index.delete_all_documents(), "delete all documents")

    # -- reads -------------------------------------------------------------------------

    async def count(self) -> int:
        """Return the number of documents in the index."""
        with self._answering("count documents"):
            return (await self._index.get_stats()).number_of_documents

    async def get(self, id: int) -> ProductDocument | None:
        """Return the stored document with this id, or None."""
        with self._answering("fetch a document"):
            try:
                data = await self._index.get_document(str(id), fields=DOC_FIELDS)
            except MeilisearchApiError as error:
                if error.code == "document_not_found":
                    return None
                raise
        return ProductDocument.from_dict(data)

    async def search(self, req: SearchRequest) -> SearchResponse:
        """Answer one search request (see ``search.query`` for how the query is read)."""
        plan = plan_query(req.query)
        filters = filter_expressions(req)
        facets = [FACET_ATTRIBUTES[name] for name in req.facets]
        with self._answering("search"):
            if plan.kind == "barcode":
                return await self._barcode_search(req, plan, filters, facets)
            text = plan.kind == "text"
            hits, total, distribution, elapsed = await self._page(
                query=" ".join(word.text for word in plan.words) if text else None,
                filters=filters,
                facets=facets,
                # Text relevance: the ranking rules decide, "id:asc" breaks ties.
                sort=None if text and req.sort == "relevance" else SORTS[req.sort],
                offset=req.offset,
                limit=req.limit,
            )
        return SearchResponse(
            hits=[_hit(hit, plan) for hit in hits],
            total=total,
            facets=_facets(req.facets, [distribution]),
            processing_time_ms=elapsed,
        )

    async def similar(self, doc: ProductDocument, *, store_id: int | None, limit: int) -> list[int]:
        """Return ids of alternatives to ``doc`` ranked by ``rank_alternatives``."""
        specific, parent = category_tiers(doc)
        if specific is None or limit <= 0:
            return []
        with self._answering("find alternatives"):
            same = await self._category_members(specific, exclude=None, doc_id=doc.id)
            broader: list[ProductDocument] = []
            if parent is not None and len(same) < limit:
                broader = await self._category_members(parent, exclude=specific, doc_id=doc.id)
        return rank_alternatives(doc, same, broader, store_id=store_id, limit=limit)

    # -- internals ---------------------------------------------------------------------

    @contextmanager
    def _answering(self, action: str) -> Iterator[None]:
        if self._closed:
            raise SearchEngineUnavailable("The Meilisearch engine has been closed.")
        with translated_errors(action):
            yield

    async def _wait(self, task: TaskInfo, action: str) -> None:
        result = await self._client.wait_for_task(
            task.task_uid, timeout_in_ms=self._task_timeout_ms
        )
        if result.status != "succeeded":
            error = result.error or {}
            raise SearchEngineError(
                f"Meilisearch task {task.task_uid} to {action} {result.status}: "
                f"{error.get('code', '')} {error.get('message', '')}".rstrip()
            )

    async def _page(
        self,
        *,
        query: str | None,
        filters: list[str],
        facets: list[str],
        sort: list[str] | None,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int, dict[str, Any], int]:
        page, hits_per_page, skip = page_window(offset, limit)
        result = await self._index.search(
            query,
            filter=list[str | list[str]](filters) or None,
            facets=facets or None,
            sort=sort,
            page=page,
            hits_per_page=hits_per_page,
            attributes_to_retrieve=["id", "name"],
            attributes_to_search_on=TEXT_ATTRIBUTES,
            matching_strategy="all",
        )
        return (
            list(result.hits)[skip:],
            int(result.total_hits or 0),
            dict(result.facet_distribution or {}),
            result.processing_time_ms,
        )

    async def _barcode_search(
        self, req: SearchRequest, plan: QueryPlan, filters: list[str], facets: list[str]
    ) -> SearchResponse:
        forms = ", ".join(quote(form) for form in plan.barcode_forms)
        exact = f"barcodes IN [{forms}]"
        sort = SORTS[req.sort]
        first_hits, first_total, first_facets, first_ms = await self._page(
            query=None,
            filters=[*filters, exact],
            facets=facets,
            sort=sort,
            offset=req.offset,
            limit=req.limit,
        )
        _, _, second_offset, second_limit = split_page(req.offset, req.limit, first_total)
        second_hits, second_total, second_facets, second_ms = await self._page(
            query=None,
            filters=[*filters, f"barcode_prefixes = {quote(plan.barcode)}", f"NOT {exact}"],
            facets=facets,
            sort=sort,
            offset=second_offset,
            limit=second_limit,
        )
        return SearchResponse(
            hits=[_hit(hit, plan) for hit in [*first_hits, *second_hits]],
            total=first_total + second_total,
            facets=_facets(req.facets, [first_facets, second_facets]),
            processing_time_ms=first_ms + second_ms,
        )

    async def _category_members(
        self, category: str, *, exclude: str | None, doc_id: int
    ) -> list[ProductDocument]:
        filters = [f"category_keys = {quote(folded_key(category))}", f"id != {doc_id}"]
        if exclude is not None:
            filters.append(f"NOT category_keys = {quote(folded_key(exclude))}")
        result = await self._index.search(
            None,
            filter=list[str | list[str]](filters),
            sort=["id:asc"],
            limit=MAX_CANDIDATES,
            attributes_to_retrieve=DOC_FIELDS,
        )
        return [ProductDocument.from_dict(hit) for hit in result.hits]


def _hit(hit: dict[str, Any], plan: QueryPlan) -> SearchHit:
    return SearchHit(id=int(hit["id"]), highlight=highlight_name(str(hit["name"]), plan))


def _facets(
    names: Sequence[str], distributions: list[dict[str, Any]]
) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        counts: Counter[str] = Counter()
        for distribution in distributions:
            values = distribution.get(FACET_ATTRIBUTES[name], {})
            counts.update({str(value): int(count) for value, count in values.items()})
        out[name] = sorted_facet(counts)
    return out
