"""The exported SDL in schema/schema.graphql matches the code."""

from __future__ import annotations

from schema.__main__ import SDL_PATH, exported_sdl


def test_exported_schema_is_current() -> None:
    assert SDL_PATH.read_text() == exported_sdl(), (
        "run `python -m schema` and commit schema.graphql"
    )
