"""Choosing the engine from ``OMNICART_SEARCH_URL``."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.embedded import EmbeddedEngine
from search.factory import create_engine
from search.meili import MeiliEngine


@pytest.mark.parametrize("url", [None, "", "  "])
def test_no_url_means_embedded_engine_in_the_data_dir(url: str | None, tmp_path: Path) -> None:
    engine = create_engine(url, tmp_path, None)
    assert isinstance(engine, EmbeddedEngine)
    assert engine.path == tmp_path / "search"


def test_embedded_url_names_the_index_directory(tmp_path: Path) -> None:
    engine = create_engine(f"embedded:{tmp_path / 'idx'}", Path("/unused"), None)
    assert isinstance(engine, EmbeddedEngine)
    assert engine.path == tmp_path / "idx"


async def test_http_url_means_meilisearch(tmp_path: Path) -> None:
    engine = create_engine("http://search.internal:7700", tmp_path, "secret")
    assert isinstance(engine, MeiliEngine)
    assert (engine.url, engine.index_uid) == ("http://search.internal:7700", "products")
    await engine.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("embedded:", "needs a directory"),
        ("redis://localhost", "is not understood. Leave it unset for the embedded engine"),
    ],
)
def test_unknown_url_says_what_to_set(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        create_engine(url, tmp_path, None)
