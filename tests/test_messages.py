"""The PWA's message catalogs: nb and en hold the same keys, and every key the code asks for exists.

Keys are read from the catalog modules (``static/js/messages/*.js``, one ``"key": …`` entry per
line; ``kiosk.en.js`` and the like are a page's own, added by that page) and from the
``t("key")`` calls in every script under ``static/js``.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC_JS = Path(__file__).resolve().parents[1] / "static" / "js"
ENTRY = re.compile(r'^\s*"([a-z][\w.-]*)":', re.MULTILINE)
CALL = re.compile(r'\bt\(\s*"([a-z][\w.-]*)"')


def catalog_keys(language: str) -> set[str]:
    """Keys of the language's catalog: ``nb.js`` and the pages' own ``*.nb.js`` (kiosk, staff)."""
    folder = STATIC_JS / "messages"
    files = [folder / f"{language}.js", *sorted(folder.glob(f"*.{language}.js"))]
    return {key for path in files for key in ENTRY.findall(path.read_text())}


def test_each_pages_catalog_exists_in_both_languages() -> None:
    folder = STATIC_JS / "messages"
    for english in folder.glob("*.en.js"):
        page = english.name.removesuffix(".en.js")
        assert (folder / f"{page}.nb.js").exists(), f"{page}.nb.js is missing"
        assert set(ENTRY.findall(english.read_text())) == set(
            ENTRY.findall((folder / f"{page}.nb.js").read_text())
        ), f"{page}.en.js and {page}.nb.js hold different keys"


def used_keys() -> dict[str, str]:
    used: dict[str, str] = {}
    for script in STATIC_JS.rglob("*.js"):
        if script.parent.name == "messages":
            continue
        for key in CALL.findall(script.read_text()):
            used.setdefault(key, str(script.relative_to(STATIC_JS)))
    return used


def test_both_languages_hold_the_same_keys() -> None:
    english, norwegian = catalog_keys("en"), catalog_keys("nb")
    assert english, "the English catalog is empty or unreadable"
    assert sorted(english - norwegian) == [], "keys missing from nb.js"
    assert sorted(norwegian - english) == [], "keys missing from en.js"


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    english = catalog_keys("en")
    missing = {key: where for key, where in used_keys().items() if key not in english}
    assert missing == {}
