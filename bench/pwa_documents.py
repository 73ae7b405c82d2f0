"""The GraphQL documents the PWA sends, read from its own ES modules so a bench never drifts."""

from __future__ import annotations

import re
from pathlib import Path

STATIC_JS = Path(__file__).resolve().parent.parent / "static" / "js"
_TEMPLATE = re.compile(r"(?:export )?const (\w+) = `([^`]*)`;", re.S)
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def _templates(*files: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for file in files:
        found.update(_TEMPLATE.findall(file.read_text(encoding="utf-8")))
    return found


def _expand(text: str, templates: dict[str, str]) -> str:
    while _PLACEHOLDER.search(text):
        text = _PLACEHOLDER.sub(lambda m: templates[m.group(1)], text)
    return text


def product_page_document() -> str:
    """Return the product screen's ``query Product`` with its fragments filled in, one line."""
    templates = _templates(STATIC_JS / "fragments.js", STATIC_JS / "screens" / "product.js")
    return " ".join(_expand(templates["PRODUCT"], templates).split())
