"""The GraphQL documents the PWA sends, read from its template constants in static/js."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
_TEMPLATE = re.compile(r"(?:export\s+)?const\s+(\w+)\s*=\s*`([^`]*)`", re.S)
_OPERATION = re.compile(r"^\s*(query|mutation|subscription)\b")


def static_graphql_documents() -> dict[str, str]:
    """Every GraphQL operation written as a template constant in static/js, interpolated.

    Keys are ``js/file.js:CONSTANT``. A document still holding ``${…}`` is built at run time
    (cart-state, staff actions) and is covered by the browser tests instead.
    """
    constants: dict[str, str] = {}
    owners: dict[str, str] = {}
    for path in sorted((STATIC / "js").rglob("*.js")):
        for name, body in _TEMPLATE.findall(path.read_text()):
            constants.setdefault(name, body)
            owners.setdefault(name, path.relative_to(STATIC).as_posix())

    def expand(text: str, depth: int = 0) -> str:
        if depth > 5:
            return text
        return re.sub(
            r"\$\{(\w+)\}",
            lambda m: expand(constants[m.group(1)], depth + 1) if m.group(1) in constants else m[0],
            text,
        )

    return {
        f"{owners[name]}:{name}": expand(body)
        for name, body in constants.items()
        if _OPERATION.match(body)
    }
