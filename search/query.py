"""How a typed query is understood, decided once here so both engines agree.

* The query is folded (``fold_text``) and split into words; words past the tenth are ignored
  (Meilisearch does the same).
* If the query without spaces and dashes is 4 or more ASCII digits it is a **barcode** query:
  products carrying exactly that code (in any printed form: 8, 12, 13 or 14 digits with
  leading zeros) come first, then products with a barcode that starts with the digits.
  Barcodes are never matched fuzzily and never against names.
* Otherwise it is a **text** query: every word must match (in name, brand, categories or
  description). A word may differ by as many typos as Meilisearch allows by default, counted
  on the query word's length: none below 5 letters, 1 from 5, 2 from 9; words of digits get
  none. A transposition counts as one typo. The last word also matches as a prefix
  (as-you-type), with the same typo budget.
* An empty query matches everything.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from search.alternatives import rank_alternatives
from search.documents import folded_key, word_spans, words
from search.engine import MAX_QUERY_CHARS, QueryTooLong

__all__ = [
    "MAX_FACET_VALUES",
    "MAX_QUERY_WORDS",
    "MIN_BARCODE_DIGITS",
    "QueryPlan",
    "QueryWord",
    "barcode_forms",
    "barcode_prefixes",
    "highlight_name",
    "plan_query",
    "rank_alternatives",
    "sorted_facet",
    "split_page",
    "typo_budget",
    "word_matches",
]

MAX_QUERY_WORDS = 10
MIN_BARCODE_DIGITS = 4
MAX_FACET_VALUES = 100
ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
GTIN_LENGTHS = (8, 12, 13, 14)

_BARCODE_SEPARATORS = re.compile(r"[\s\-‐‑–]+")
_ASCII_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One folded query word with its typo budget and whether it may match as a prefix."""

    text: str
    max_typos: int
    prefix: bool


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The interpretation of one query string, shared by both engines."""

    kind: Literal["everything", "text", "barcode"]
    words: tuple[QueryWord, ...] = ()
    #: The digits typed, for a barcode query (matched as a prefix).
    barcode: str = ""
    #: Exact spellings of the same code (the digits typed plus zero-padded/unpadded forms).
    barcode_forms: tuple[str, ...] = ()


def typo_budget(word: str) -> int:
    """Return how many typos a folded query word may contain (Meilisearch's defaults)."""
    if word.isdigit():
        return 0
    if len(word) >= TWO_TYPOS_FROM:
        return 2
    if len(word) >= ONE_TYPO_FROM:
        return 1
    return 0


def barcode_forms(digits: str) -> tuple[str, ...]:
    """Return every printed form of the code ``digits`` (itself plus 8/12/13/14-digit paddings)."""
    forms = {digits}
    if len(digits) in GTIN_LENGTHS:
        core = digits.lstrip("0")
        forms.update(core.zfill(width) for width in GTIN_LENGTHS if len(core) <= width)
    return tuple(sorted(forms, key=lambda form: (len(form), form)))


def barcode_prefixes(barcodes: list[str]) -> list[str]:
    """Return every prefix of 4+ digits of every barcode: the values a barcode prefix filters on."""
    prefixes = {code[:end] for code in barcodes for end in range(MIN_BARCODE_DIGITS, len(code) + 1)}
    return sorted(prefixes)


def plan_query(query: str) -> QueryPlan:
    """Interpret a typed query; raise QueryTooLong past MAX_QUERY_CHARS characters."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLong(len(query))
    compact = _BARCODE_SEPARATORS.sub("", query)
    if len(compact) >= MIN_BARCODE_DIGITS and _ASCII_DIGITS.fullmatch(compact):
        return QueryPlan(kind="barcode", barcode=compact, barcode_forms=barcode_forms(compact))
    folded = words(query)[:MAX_QUERY_WORDS]
    if not folded:
        return QueryPlan(kind="everything")
    last = len(folded) - 1
    return QueryPlan(
        kind="text",
        words=tuple(
            QueryWord(text=word, max_typos=typo_budget(word), prefix=position == last)
            for position, word in enumerate(folded)
        ),
    )


def _edit_distance(query: str, candidate: str, *, prefix: bool) -> int:
    """Return the optimal-string-alignment distance (a transposition costs 1).

    With ``prefix`` the distance is to the closest prefix of ``candidate``, the way tantivy's
    prefix Levenshtein automaton (and Meilisearch's last-word matching) measure it.
    """
    previous2: list[int] = []
    previous = list(range(len(candidate) + 1))
    for i in range(1, len(query) + 1):
        current = [i] + [0] * len(candidate)
        for j in range(1, len(candidate) + 1):
            cost = 0 if query[i - 1] == candidate[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (
                i > 1
                and j > 1
                and query[i - 1] == candidate[j - 2]
                and query[i - 2] == candidate[j - 1]
            ):
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous) if prefix else previous[-1]


def word_matches(word: QueryWord, token: str) -> bool:
    """Return whether a folded ``token`` of a document matches ``word`` under the plan's rules."""
    if token == word.text or (word.prefix and token.startswith(word.text)):
        return True
    if word.max_typos == 0:
        return False
    if not word.prefix and abs(len(token) - len(word.text)) > word.max_typos:
        return False
    return _edit_distance(word.text, token, prefix=word.prefix) <= word.max_typos


def highlight_name(name: str, plan: QueryPlan) -> str | None:
    """Return ``name`` HTML-escaped with words matching a text query wrapped in ``<mark>``.

    None for barcode and empty queries, which match no words of the name.
    """
    if plan.kind != "text":
        return None
    text = unicodedata.normalize("NFC", name)
    marked = sorted(
        {
            (start, end)
            for start, end, token, _ in word_spans(text)
            if any(word_matches(word, token) for word in plan.words)
        }
    )
    out: list[str] = []
    position = 0
    for start, end in marked:
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def split_page(offset: int, limit: int, first_total: int) -> tuple[int, int, int, int]:
    """Split one page over two concatenated result groups (exact barcodes, then prefixes).

    Returns ``(first_offset, first_limit, second_offset, second_limit)``.
    """
    first_offset = min(offset, first_total)
    first_limit = max(0, min(offset + limit, first_total) - first_offset)
    return first_offset, first_limit, max(0, offset - first_total), limit - first_limit


def sorted_facet(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Return facet values folded as filters fold them, most frequent first, ties by value.

    Spellings with one filter key (``folded_key``: "Ferrero", "ferrero", "FERRERO") are one
    value, so a value's count is what filtering by it finds: the counts add up and the value
    shown is the most common spelling among the matches (a tie goes to the spelling that sorts
    first, capitals before small letters). At most MAX_FACET_VALUES values.
    """
    spellings: dict[str, Counter[str]] = {}
    for value, count in counts.items():
        if count > 0:
            spellings.setdefault(folded_key(value) or value, Counter())[value] += count
    folded = {
        min(group.items(), key=lambda item: (-item[1], item[0]))[0]: group.total()
        for group in spellings.values()
    }
    ordered = sorted(folded.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:MAX_FACET_VALUES]
