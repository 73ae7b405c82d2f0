"""Error messages in the asker's language: one catalog, keyed by the English message.

Every ``AppError`` is raised with its English message, as before; a GraphQL answer (a
mutation's ``UserError``, a query's coded error) and a plain HTTP error translate it for the
request's ``Accept-Language`` here, at the edge. The language is resolved as for notifications
(``server.notifications.language.language_from_accept``: ``nb``, ``no`` and ``nn`` read
Bokmål), except that a request naming neither of ours gets English, the language of the API.

The Bokmål catalog (``server.messages_nb``) maps each English template to its translation;
a template's ``{placeholders}`` match whatever the raised message holds there, which goes into
the translation unchanged, or translated itself when it is one of the catalog's fragments.
A message the catalog does not know stays English. Codes and fields never change.

Why a dict and not gettext/Babel: the messages are raised as finished English sentences at
some 150 places, and the catalog keys on them as written, so no raise site changes and a test
can read every one of them from the source; gettext would need each site marked and its
arguments passed apart, and a compiled ``.mo`` built at install. Accept-Language parsing is
already done (with ``q`` weights) for notifications; Babel's negotiation would add a dependency
for the same two-language choice.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache

from server.errors import AppError
from server.messages_nb import FRAGMENTS, NB
from server.notifications.language import Language, language_from_accept

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True, slots=True)
class _Template:
    """One catalog entry: the English template as a pattern and its translation."""

    pattern: re.Pattern[str]
    names: tuple[str, ...]
    translation: str


def _compile(english: str, translation: str) -> _Template:
    pieces = _PLACEHOLDER.split(english)
    regex = "".join(
        re.escape(piece) if i % 2 == 0 else f"(?P<p{i // 2}>.*?)" for i, piece in enumerate(pieces)
    )
    return _Template(re.compile(f"^{regex}$", re.S), tuple(pieces[1::2]), translation)


@cache
def _templates(language: Language) -> tuple[dict[str, str], tuple[_Template, ...]]:
    """Return the language's exact messages and its templates with placeholders."""
    assert language == "nb"
    catalog = {**NB, **FRAGMENTS}
    exact = {english: text for english, text in catalog.items() if "{" not in english}
    patterns = tuple(_compile(english, text) for english, text in catalog.items() if "{" in english)
    return exact, patterns


def translate(message: str, language: Language, *, depth: int = 0) -> str:
    """Return ``message`` in ``language``; English, or a message not in the catalog, as it is."""
    if language == "en" or not message:
        return message
    exact, patterns = _templates(language)
    if message in exact:
        return exact[message]
    for template in patterns:
        match = template.pattern.match(message)
        if match is None:
            continue
        filled = {
            name: _part(match.group(f"p{i}"), language, depth)
            for i, name in enumerate(template.names)
        }
        return _fill(template.translation, filled)
    return message


def _fill(translation: str, values: dict[str, str]) -> str:
    """Put each placeholder's value into the translation."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), translation)


def _part(value: str, language: Language, depth: int) -> str:
    """Translate what filled a placeholder when it is a fragment (or fragments joined by "; ")."""
    if depth >= 2 or not value:
        return value
    return "; ".join(translate(piece, language, depth=depth + 1) for piece in value.split("; "))


def error_language(accept_language: str | None) -> Language:
    """Return the language error messages answer in for this ``Accept-Language`` header."""
    return language_from_accept(accept_language, default="en")


def localized(error: AppError, language: Language) -> AppError:
    """Return ``error`` with its message in ``language`` (a copy; code and field unchanged)."""
    message = translate(error.message, language)
    if message == error.message:
        return error
    translated = copy.copy(error)
    translated.message = message
    translated.args = (message,)
    return translated
