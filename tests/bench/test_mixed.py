"""bench/mixed.py: its connections follow the mix, and a short run answers every kind."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from bench.mixed import bench
from bench.mixed_load import connections_of


def test_the_connections_follow_the_mix_with_one_each_at_least() -> None:
    assert connections_of(50) == {"lookup": 25, "search": 10, "cart": 13, "checkout": 2}
    assert connections_of(4) == {"lookup": 1, "search": 1, "cart": 1, "checkout": 1}
    assert connections_of(7) == {"lookup": 3, "search": 1, "cart": 2, "checkout": 1}


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_a_short_mix_answers_every_kind_without_errors(tmp_path: Path) -> None:
    args = argparse.Namespace(
        seconds=2.0,
        baseline_seconds=1.0,
        clients=8,
        products=24,
        workers=[1],
        pin=True,
        reader_pause_ms=None,
    )
    baseline, mix = bench("SQLite", f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", tmp_path, args)
    assert sorted(baseline.kinds) == ["cart", "checkout"]
    assert sorted(mix.kinds) == ["cart", "checkout", "lookup", "search"]
    # Every kind's prepared requests were answered, each holding what its kind must.
    assert {kind: m.errors for kind, m in mix.kinds.items()} == dict.fromkeys(mix.kinds, 0)
    assert {kind: m.errors for kind, m in baseline.kinds.items()} == {"cart": 0, "checkout": 0}
    assert min(m.requests for m in [*mix.kinds.values(), *baseline.kinds.values()]) > 0
    assert mix.cpu_seconds > 0
