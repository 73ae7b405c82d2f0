"""Several processes opening one embedded index at once: none may wipe or break it.

Real processes (multiprocessing, spawned so no thread state is forked) open the same
directory in lock step, round after round, as the web server, ``omnicart indexer`` and
``omnicart reindex`` do when they start together.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path
from typing import Any

from search.documents import ProductDocument
from search.embedded import EmbeddedEngine
from search.embedded_schema import SCHEMA_VERSION

PROCESSES = 4
ROUNDS = 50
DOCUMENTS = 30
WAIT = 60.0  # seconds a process may wait for its siblings at one round's start


def milk(id: int) -> ProductDocument:
    return ProductDocument(id=id, name=f"Mælk {id}", brand="Arla", categories=["Mælk"])


async def _open_and_count(path: Path) -> int:
    engine = EmbeddedEngine(path)
    try:
        return await engine.count()
    finally:
        await engine.close()


def open_in_rounds(path: Path, rounds: int, barrier: Any, results: Any) -> None:
    """Open the index at ``path`` once per round, all processes at once; report each count."""
    seen: list[int | str] = []
    for _ in range(rounds):
        barrier.wait(WAIT)
        try:
            seen.append(asyncio.run(_open_and_count(path)))
        except Exception as error:  # reported to the test, which names it
            seen.append(f"{type(error).__name__}: {error}")
    results.put(seen)


def run_rounds(path: Path, rounds: int) -> list[list[int | str]]:
    """Run PROCESSES processes through ``rounds`` simultaneous opens; return what each saw."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=open_in_rounds, args=(path, rounds, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        seen = [results.get(timeout=WAIT * 2) for _ in workers]
    finally:
        for worker in workers:
            worker.join(WAIT)
            if worker.is_alive():
                worker.kill()
                worker.join()
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    return seen


async def test_the_index_survives_50_rounds_of_4_concurrent_opens(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path)
    await engine.index([milk(doc_id) for doc_id in range(1, DOCUMENTS + 1)])
    await engine.close()

    seen = await asyncio.to_thread(run_rounds, tmp_path, ROUNDS)

    assert seen == [[DOCUMENTS] * ROUNDS] * PROCESSES
    assert await _open_and_count(tmp_path) == DOCUMENTS
    assert json.loads((tmp_path / "omnicart-search.json").read_text()) == {
        "schema_version": SCHEMA_VERSION
    }


async def test_processes_creating_a_new_index_at_once_agree_on_one(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"

    seen = await asyncio.to_thread(run_rounds, index_dir, 1)

    assert seen == [[0]] * PROCESSES
    engine = EmbeddedEngine(index_dir)
    await engine.index([milk(1)])
    await engine.close()
    assert await _open_and_count(index_dir) == 1
