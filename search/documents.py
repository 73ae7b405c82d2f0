"""What the search engines index: one flat ``ProductDocument`` per product, and text folding.

The server builds documents from the database (see the indexer); the engines never read the
database. ``fold_text`` and ``words`` are the one definition of how text is compared, shared
by both engines, the highlighter and the tests, so "smør", "Smør" and "smor" agree everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Letters that Unicode does not decompose into a base letter plus a mark. The Nordic ones are
# the point (æ → ae, ø → o); the rest keep Latin-script names from neighbouring languages
# comparable the same way.
_UNDECOMPOSABLE = str.maketrans(
    {
        "æ": "ae",
        "ø": "o",
        "œ": "oe",
        "ß": "ss",
        "ð": "d",
        "đ": "d",
        "þ": "th",
        "ł": "l",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
    }
)
_WORD = re.compile(r"[^\W_]+")
# A word may contain apostrophes between letters: "Joe's", "Kellogg's", "d'été", "Ben & Jerry's".
_TOKEN = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_APOSTROPHE = re.compile(r"['’ʼ]")


def fold_text(text: str) -> str:
    """Return ``text`` lowercased, Nordic letters folded (æ→ae, ø→o, å/ä→a, ö→o), marks stripped."""
    # Decompose first so compatibility letters (𝐀, ﬁ) lower too, and again after lowering
    # and the Nordic table, since lowering may compose or produce new marks ("İ" → "i̇").
    lowered = unicodedata.normalize("NFKD", text).lower().translate(_UNDECOMPOSABLE)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_spans(text: str) -> list[tuple[int, int, str, bool]]:
    """Split ``text`` into folded words with their span in ``text`` and whether each is primary.

    Primary words are what ``words`` returns. A word with apostrophes is one primary word
    without them ("Joe's" → "joes") plus secondary words for its pieces ("joe", "s"), which
    are indexed too, so "kelloggs", "kellogg" and "ete" (from "d'été") all match. Spans
    index ``text`` as given (the callers pass NFC), so the highlighter can wrap the letters.
    """
    return [
        (match.start(), match.end(), word, primary)
        for match in _TOKEN.finditer(text)
        for word, primary in _token_words(match.group())
    ]


@lru_cache(maxsize=1 << 16)
def _token_words(token: str) -> tuple[tuple[str, bool], ...]:
    # Catalogues repeat a small vocabulary, so folding each distinct token once pays off.
    joined = _WORD.findall(fold_text(_APOSTROPHE.sub("", token)))
    out = [(word, True) for word in joined]
    if len(token) != len(_APOSTROPHE.sub("", token)):
        pieces = (
            word for piece in _APOSTROPHE.split(token) for word in _WORD.findall(fold_text(piece))
        )
        out += [(word, False) for word in dict.fromkeys(pieces) if word not in joined]
    return tuple(out)


def words(text: str | None) -> list[str]:
    """Return the folded words of ``text``: what queries are made of and labels are keyed by."""
    if not text:
        return []
    return [
        word for _, _, word, primary in word_spans(unicodedata.normalize("NFC", text)) if primary
    ]


def index_words(text: str | None) -> list[str]:
    """Return the folded words indexed for ``text``: ``words`` plus pieces of apostrophe words."""
    if not text:
        return []
    return [word for _, _, word, _ in word_spans(unicodedata.normalize("NFC", text))]


def folded_key(value: str) -> str:
    """Return the key a brand or category label is filtered by: its folded words, space-joined."""
    return " ".join(words(value))


def name_sort_key(name: str) -> str:
    """Return the key products are sorted by for ``sort="name"`` (folded words, space-joined)."""
    return folded_key(name)


@dataclass(slots=True)
class ProductDocument:
    """One product as the search engines see it; every field is plain data, built by the server."""

    id: int
    name: str
    brand: str | None = None
    #: Category path, broad → specific, human-readable labels ("Mejeri", "Mælk").
    categories: list[str] = field(default_factory=list)
    description: str | None = None
    #: Every printed form of every barcode (14-, 13-, 12- and 8-digit forms where they apply).
    barcodes: list[str] = field(default_factory=list)
    #: Current price in minor units.
    price: int = 0
    currency: str = "DKK"
    #: Store ids where available stock is above zero.
    in_stock_at: list[int] = field(default_factory=list)
    in_stock_online: bool = False
    quantity: str | None = None
    image_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the document as JSON-ready data (the inverse of ``from_dict``)."""
        return {
            "id": self.id,
            "name": self.name,
            "brand": self.brand,
            "categories": list(self.categories),
            "description": self.description,
            "barcodes": list(self.barcodes),
            "price": self.price,
            "currency": self.currency,
            "in_stock_at": list(self.in_stock_at),
            "in_stock_online": self.in_stock_online,
            "quantity": self.quantity,
            "image_url": self.image_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductDocument:
        """Build a document from ``to_dict`` output or an engine's stored copy."""
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            brand=data.get("brand"),
            categories=list(data.get("categories") or []),
            description=data.get("description"),
            barcodes=[str(code) for code in data.get("barcodes") or []],
            price=int(data.get("price") or 0),
            currency=str(data.get("currency") or ""),
            in_stock_at=[int(store) for store in data.get("in_stock_at") or []],
            in_stock_online=bool(data.get("in_stock_online")),
            quantity=data.get("quantity"),
            image_url=data.get("image_url"),
        )
