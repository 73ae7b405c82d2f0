"""What only the embedded (tantivy) engine has to get right: its directory, segments, threads."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from search.documents import ProductDocument
from search.embedded import EmbeddedEngine
from search.embedded_schema import SCHEMA_VERSION
from search.engine import SearchEngineUnavailable, SearchRequest


def milk(id: int) -> ProductDocument:
    return ProductDocument(id=id, name=f"Mælk {id}", brand="Arla", categories=["Mælk"])


async def test_documents_survive_closing_and_reopening(tmp_path: Path) -> None:
    first = EmbeddedEngine(tmp_path)
    await first.index([milk(1), milk(2)])
    await first.close()
    second = EmbeddedEngine(tmp_path)
    assert (await second.count(), await second.get(2)) == (2, milk(2))
    await second.close()


async def test_index_of_another_schema_version_is_rebuilt_empty(tmp_path: Path) -> None:
    first = EmbeddedEngine(tmp_path)
    await first.index([milk(1)])
    await first.close()
    (tmp_path / "omnicart-search.json").write_text(json.dumps({"schema_version": 0}))
    (tmp_path / "notes.txt").write_text("kept")
    second = EmbeddedEngine(tmp_path)
    await second.ensure_ready()
    assert (await second.count(), (tmp_path / "notes.txt").read_text()) == (0, "kept")
    assert json.loads((tmp_path / "omnicart-search.json").read_text()) == {
        "schema_version": SCHEMA_VERSION
    }
    await second.close()


async def test_index_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    engine = EmbeddedEngine(blocker)
    with pytest.raises(SearchEngineUnavailable, match="Cannot open the search index"):
        await engine.ensure_ready()
    health = await engine.health()
    assert (health.ok, health.documents) == (False, None)
    with pytest.raises(SearchEngineUnavailable):
        await engine.search(SearchRequest(query="smør"))


async def test_equal_scores_page_by_id_across_segments(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path)
    ids = list(range(1, 401))
    random.Random(3).shuffle(ids)
    for start in range(0, 400, 50):  # one segment per batch, ids out of order
        await engine.index([milk(doc_id) for doc_id in ids[start : start + 50]])
    pages = [
        await engine.search(SearchRequest(query="maelk", offset=offset, limit=30, facets=()))
        for offset in range(0, 400, 30)
    ]
    assert [hit.id for page in pages for hit in page.hits] == list(range(1, 401))
    assert {page.total for page in pages} == {400}
    await engine.close()


async def test_searches_run_while_indexing(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path)
    await engine.index([milk(1)])
    writes = engine.index([milk(doc_id) for doc_id in range(2, 2001)])
    reads = [engine.search(SearchRequest(query="maelk", limit=5)) for _ in range(20)]
    _, *responses = await asyncio.gather(writes, *reads)
    assert all(response.hits[0].id == 1 for response in responses)
    assert (await engine.search(SearchRequest(query="maelk"))).total == 2000
    await engine.close()
