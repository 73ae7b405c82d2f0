"""Test data committed with the project (see ``tests/data/README.md`` for sources and licence)."""

from __future__ import annotations

from pathlib import Path

#: A cut of real Open Food Facts products (ODbL) for the relevance and importer tests.
OFF_SAMPLE = Path(__file__).with_name("off-sample.jsonl")
#: Its number of rows, pinned so a truncated file fails the tests instead of passing less.
OFF_SAMPLE_ROWS = 2000
