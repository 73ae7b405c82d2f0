"""The PWA's message catalogs: nb and en hold the same keys, and every key the code asks for exists.

Keys are read from the catalog modules (``static/js/messages/*.js``, one ``"key": …`` entry per
line) and from the ``t("key")`` calls in every script under ``static/js``.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC_JS = Path(__file__).resolve().parents[1] / "static" / "js"
ENTRY = re.compile(r'^\s*"([a-z][\w.-]*)":', re.MULTILINE)
CALL = re.compile(r'\bt\(\s*"([a-z][\w.-]*)"')


def catalog_keys(language: str) -> set[str]:
    return set(ENTRY.findall((STATIC_JS / "messages" / f"{language}.js").read_text()))


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
