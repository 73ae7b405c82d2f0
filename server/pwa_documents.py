"""The GraphQL documents the PWA ships, read from the template constants of its ES modules.

The server registers each complete one as a persisted query when it starts, so the PWA sends
only its SHA-256 (see ``schema/persisted.py``); the tests check every one against the schema
and the cost budget, and ``bench/lookup.py`` sends the product screen's. A document is a
``const NAME = `…``` whose text starts with an operation; ``${OTHER}`` of another such constant
(a fragment) is filled in as the browser fills it in. One still holding ``${…}`` is built at run
time and registers itself on first use, like any client's document.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PRODUCT_PAGE = "js/screens/product.js:PRODUCT"
_TEMPLATE = re.compile(r"(?:export\s+)?const\s+(\w+)\s*=\s*`([^`]*)`", re.S)
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_IMPORT = re.compile(r"""import\s*\{([^}]*)\}\s*from\s*["']([^"']+)["']""")
_OPERATION = re.compile(r"^\s*(query|mutation|subscription)\b")
_MAX_NESTING = 5


def _imported_names(owner: str, text: str) -> dict[str, tuple[str, str]]:
    """Map each name a module imports by ``import { A, B as C } from "./x.js"`` to its home."""
    names: dict[str, tuple[str, str]] = {}
    for listed, source in _IMPORT.findall(text):
        home = posixpath.normpath(posixpath.join(posixpath.dirname(owner), source))
        for item in listed.split(","):
            original, _, local = (part.strip() for part in item.partition(" as "))
            if original:
                names[local or original] = (home, original)
    return names


def static_graphql_documents(static_dir: Path = STATIC_DIR) -> dict[str, str]:
    """Return every GraphQL operation written as a template constant in ``static/js``.

    Keys are ``js/file.js:CONSTANT``; values the text the browser evaluates. A template holding
    a backslash is left out: JavaScript would read its escapes, so the browser's text (and its
    hash) would not be this one.
    """
    texts = {
        path.relative_to(static_dir).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((static_dir / "js").rglob("*.js"))
    }
    constants = {
        (owner, name): body
        for owner, text in texts.items()
        for name, body in _TEMPLATE.findall(text)
    }
    imports = {owner: _imported_names(owner, text) for owner, text in texts.items()}

    def expand(owner: str, text: str, depth: int = 0) -> str:
        def fill(match: re.Match[str]) -> str:
            # A constant of the module itself, else the one its import names.
            home, name = imports[owner].get(match[1], (owner, match[1]))
            inner = constants.get((home, name))
            if inner is None or depth >= _MAX_NESTING:
                return match[0]
            return expand(home, inner, depth + 1)

        return _PLACEHOLDER.sub(fill, text)

    documents = {
        f"{owner}:{name}": expand(owner, body)
        for (owner, name), body in constants.items()
        if _OPERATION.match(body)
    }
    return {where: text for where, text in documents.items() if "\\" not in text}


def complete_documents(static_dir: Path = STATIC_DIR) -> dict[str, str]:
    """Return the documents the PWA sends exactly as written: those with nothing left to fill."""
    return {
        where: text
        for where, text in static_graphql_documents(static_dir).items()
        if not _PLACEHOLDER.search(text)
    }


def product_page_document(static_dir: Path = STATIC_DIR) -> str:
    """Return the product screen's ``query Product`` with its fragments, as the browser sends it."""
    return complete_documents(static_dir)[PRODUCT_PAGE]
