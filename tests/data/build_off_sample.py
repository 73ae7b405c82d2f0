"""Cut the committed test sample ``off-sample.jsonl`` out of the full Open Food Facts sample.

Run as ``python -m tests.data.build_off_sample FULL_SAMPLE.jsonl`` (the 11,147-row file
described in ``tests/data/README.md``); it rewrites ``tests/data/off-sample.jsonl``. Rows
are copied unchanged and kept in the full file's order (so a duplicate barcode still comes
after its first row). The rules are in ``tests/data/README.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from search.embedded import EmbeddedEngine
from search.engine import SearchRequest
from tests.data import OFF_SAMPLE
from tests.search.test_relevance import BARCODES, BRANDS, NORDIC_NAMES, document
from tests.server.test_importer import expected_sample_reasons, has_restricted_prefix

#: Hits per relevance query kept from the full catalog: the products that compete with the
#: expected one for the first three places.
COMPETITORS = 40
#: Rows kept per import outcome that GS1 rules decide, and for undecided rows. "restricted"
#: rows (the chain's own codes, accepted since they are product codes) are chosen by prefix.
PER_REASON = {"restricted": 60, "gtin_check_digit": 90, "gtin_length": 40}
UNDECIDED = 60
TOTAL = 2000


def sha1_order(lines: list[str], numbers: set[int]) -> list[int]:
    """Return ``numbers`` (1-based line numbers) in SHA-1 order of their row's barcode."""

    def key(number: int) -> str:
        return hashlib.sha1(json.loads(lines[number - 1])["code"].encode()).hexdigest()

    return sorted(numbers, key=key)


async def competitors(lines: list[str]) -> set[int]:
    """Return the line numbers of the first hits of every relevance query over the full file."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = EmbeddedEngine(Path(tmp) / "search")
        docs = [document(number, json.loads(line)) for number, line in enumerate(lines, 1)]
        await engine.index(docs)
        keep: set[int] = set()
        for query, _, _ in [*NORDIC_NAMES, *BRANDS, *BARCODES]:
            request = SearchRequest(query=query, limit=COMPETITORS, facets=())
            keep.update(hit.id for hit in (await engine.search(request)).hits)
        await engine.close()
    return keep


def import_cases(source: Path, lines: list[str]) -> set[int]:
    """Return rejected, duplicate and undecided rows (with the first row of each duplicate)."""
    expected, undecided = expected_sample_reasons(source)
    keep: set[int] = set()
    for reason, wanted in PER_REASON.items():
        rows = {
            line
            for line, value in expected.items()
            if (value == reason)
            or (
                reason == "restricted"
                and value is None
                and has_restricted_prefix(json.loads(lines[line - 1])["code"].zfill(14))
            )
        }
        keep.update(sha1_order(lines, rows)[:wanted])
    keep.update(sha1_order(lines, undecided)[:UNDECIDED])
    first_of: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        gtin14 = json.loads(line)["code"].zfill(14)
        first_of.setdefault(gtin14, number)
        if expected.get(number) == "duplicate_gtin":
            keep.update((number, first_of[gtin14]))
    return keep


def main(source: Path) -> None:
    """Write the test sample cut from ``source``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    keep = asyncio.run(competitors(lines)) | import_cases(source, lines)
    expected, _ = expected_sample_reasons(source)
    accepted = {
        line
        for line, value in expected.items()
        if value is None
        and not has_restricted_prefix(json.loads(lines[line - 1])["code"].zfill(14))
    } - keep
    keep.update(sha1_order(lines, accepted)[: max(0, TOTAL - len(keep))])
    OFF_SAMPLE.write_text("".join(lines[n - 1] + "\n" for n in sorted(keep)), encoding="utf-8")
    print(f"{len(keep)} rows written to {OFF_SAMPLE}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
