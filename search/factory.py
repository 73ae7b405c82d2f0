"""Choose the search engine from ``OMNICART_SEARCH_URL``."""

from __future__ import annotations

from pathlib import Path

from search.embedded import EmbeddedEngine
from search.engine import SearchEngine
from search.meili import MeiliEngine

EMBEDDED_PREFIX = "embedded:"


def create_engine(search_url: str | None, data_dir: Path, api_key: str | None) -> SearchEngine:
    """Return the engine ``search_url`` names; raise ValueError saying what to set otherwise.

    * unset or empty: the embedded engine, index in ``data_dir / "search"``;
    * ``embedded:PATH``: the embedded engine, index in ``PATH``;
    * ``http://host:7700`` or ``https://…``: Meilisearch, with ``api_key``
      (``OMNICART_MEILI_API_KEY``).
    """
    url = (search_url or "").strip()
    if not url:
        return EmbeddedEngine(Path(data_dir) / "search")
    if url.startswith(EMBEDDED_PREFIX):
        location = url[len(EMBEDDED_PREFIX) :].strip()
        if not location:
            raise ValueError(
                "OMNICART_SEARCH_URL=embedded: needs a directory, e.g. embedded:/var/lib/omnicart/"
                "search; or leave OMNICART_SEARCH_URL unset to keep the index in the data dir."
            )
        return EmbeddedEngine(Path(location).expanduser())
    if url.startswith(("http://", "https://")):
        return MeiliEngine(url, api_key or None)
    raise ValueError(
        f"OMNICART_SEARCH_URL={url!r} is not understood. Leave it unset for the embedded "
        "engine, set embedded:/path/to/index-dir, or set http(s)://host:7700 for Meilisearch "
        "(with OMNICART_MEILI_API_KEY)."
    )
