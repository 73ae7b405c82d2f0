"""``python -m schema``: write the exported SDL to schema/schema.graphql."""

from __future__ import annotations

from pathlib import Path

from strawberry.printer import print_schema

from schema.build import build_schema
from server.config import Settings

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


def exported_sdl() -> str:
    """Return the SDL of the schema as clients see it."""
    return print_schema(build_schema(Settings())) + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(exported_sdl())
    print(f"wrote {SDL_PATH}")
