"""Restricted circulation numbers (the chain's own codes) and the label templates that read them.

Prefixes 02, 04 and 20-29 of a 13-digit code (0 and 2 of an 8-digit RCN-8) are never
global GTINs: the chain assigns them itself, to its own items (private-label bread, deli,
fruit) and on variable-measure price and weight labels. Which one a code is depends on the
catalog, so nothing here decides it: ``server.catalog.product_for_code`` first looks the code
up as a product, and only a code no product carries is read by ``read_label`` with the first
configured ``RestrictedTemplate`` whose prefix matches (``OMNICART_RESTRICTED_TEMPLATES``,
parsed by ``parse_template``). Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stdnum import ean


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


@dataclass(frozen=True, slots=True)
class RestrictedCode:
    """A variable-measure label as a template reads it: item number, and weight or price.

    ``raw`` is the 13-digit label. ``weight_grams`` and ``price_minor`` are set when the
    template says the label carries them. ``base_code`` is the label with every digit but
    prefix and item number zeroed (and its check digit recomputed): the code a catalog product
    carries to be the item the label names, in every store.
    """

    prefix: str
    item_number: str
    weight_grams: int | None
    price_minor: int | None
    raw: str
    base_code: str = ""

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True)
class RestrictedTemplate:
    """How to read a 13-digit in-store label whose prefix is one of ``prefixes``.

    ``pattern`` has one letter per digit of the 13-digit form:

    - ``P`` prefix (leading, as many as the prefixes are long), ``I`` item number;
    - ``W`` weight in grams, ``M`` price in minor units (öre, cent), each multiplied by
      ``scale`` (so ``scale=10`` reads "1234" as 12 340 g when the label counts in 10 g);
    - ``C`` the price/weight check digit some schemes carry (not verified),
      ``X`` a digit to ignore, ``K`` the EAN check digit (always last).

    An invalid pattern raises ``ValueError`` so Settings validation can report it.
    """

    prefixes: frozenset[str]
    pattern: str
    scale: int = 1

    def __post_init__(self) -> None:
        pattern = self.pattern
        if len(pattern) != 13 or not set(pattern) <= set("PIWMCXK"):
            raise ValueError(f"template {pattern!r} must be 13 letters from P I W M C X K")
        if not re.fullmatch(r"P+[^P]*K", pattern) or pattern.count("K") != 1:
            raise ValueError(f"template {pattern!r} must start with P and end with its only K")
        if "I" not in pattern:
            raise ValueError(f"template {pattern!r} has no item number (I)")
        for letter in "IWM":
            if letter in pattern and letter * pattern.count(letter) not in pattern:
                raise ValueError(f"template {pattern!r}: the {letter} digits must be adjacent")
        if pattern.count("C") > 1:
            raise ValueError(f"template {pattern!r} has more than one C")
        if self.scale < 1 or (self.scale != 1 and not set("WM") & set(pattern)):
            raise ValueError(f"template {pattern!r}: scale must be >= 1 and needs W or M")
        width = pattern.count("P")
        if not self.prefixes or any(len(p) != width or not _is_digits(p) for p in self.prefixes):
            raise ValueError(f"template {pattern!r} needs prefixes of {width} digits")

    def matches(self, code13: str) -> bool:
        """Return whether this template reads the given 13-digit label."""
        return code13[: self.pattern.count("P")] in self.prefixes

    def decode(self, code13: str) -> RestrictedCode:
        """Read a 13-digit label this template matches into a ``RestrictedCode``."""

        def field(letter: str) -> str:
            return "".join(d for d, p in zip(code13, self.pattern, strict=True) if p == letter)

        weight, price = field("W"), field("M")
        body = "".join(d if p in "PI" else "0" for d, p in zip(code13, self.pattern, strict=True))
        return RestrictedCode(
            prefix=field("P"),
            item_number=field("I"),
            weight_grams=int(weight) * self.scale if weight else None,
            price_minor=int(price) * self.scale if price else None,
            raw=code13,
            base_code=body[:-1] + ean.calc_check_digit(body[:-1]),
        )


def parse_template(spec: str) -> tuple[RestrictedTemplate, ...]:
    """Parse a Settings string of in-store label templates; raise ``ValueError`` if malformed.

    Format: entries separated by ``;``, each ``PREFIXES:PATTERN`` or
    ``PREFIXES:PATTERN*SCALE``. PREFIXES is a comma list of prefixes or inclusive
    ranges of equal width (``20-22``, ``02``, ``20,24``); PATTERN is described on
    ``RestrictedTemplate``. Example: ``"20-22:PPIIIIIMMMMMK;23:PPIIIIIWWWWWK;24:PPIIIIIWWWWWK*10"``.
    An empty spec means no templates (no code is read as a label). A prefix may
    appear in one entry only.
    """
    templates: list[RestrictedTemplate] = []
    seen: set[str] = set()
    for entry in (e.strip() for e in spec.split(";")):
        if not entry:
            continue
        head, colon, body = entry.partition(":")
        pattern, star, scale_text = body.strip().partition("*")
        if not colon or (star and not _is_digits(scale_text.strip())):
            raise ValueError(f"template entry {entry!r} must look like 20-22:PPIIIIIMMMMMK[*10]")
        prefixes = _parse_prefixes(head)
        if seen & prefixes:
            raise ValueError(f"prefix {min(seen & prefixes)} appears in more than one template")
        seen |= prefixes
        scale = int(scale_text) if star else 1
        templates.append(RestrictedTemplate(frozenset(prefixes), pattern.strip(), scale))
    return tuple(templates)


def _parse_prefixes(text: str) -> set[str]:
    prefixes: set[str] = set()
    for item in (i.strip() for i in text.split(",")):
        low, dash, high = (part.strip() for part in item.partition("-"))
        high = high if dash else low
        if not (_is_digits(low) and _is_digits(high) and len(low) == len(high)):
            raise ValueError(f"prefix {item!r} must be digits or a range of equal width")
        if int(low) > int(high):
            raise ValueError(f"prefix range {item!r} runs backwards")
        prefixes.update(str(n).zfill(len(low)) for n in range(int(low), int(high) + 1))
    return prefixes


# GS1 Sweden's variable-measure scheme: 2X + 5-digit item + 5-digit value + check, where X
# says the unit (20-22 price in 1/100, 1/10, whole kronor; 23-25 weight in g, 10 g, 100 g),
# plus the U.P.C. number-system-2 random-weight label (02 + item + price check + 4-digit price).
DEFAULT_TEMPLATE_SPEC = (
    "20:PPIIIIIMMMMMK;21:PPIIIIIMMMMMK*10;22:PPIIIIIMMMMMK*100;"
    "23:PPIIIIIWWWWWK;24:PPIIIIIWWWWWK*10;25:PPIIIIIWWWWWK*100;02:PPIIIIICMMMMK"
)
DEFAULT_TEMPLATES: tuple[RestrictedTemplate, ...] = parse_template(DEFAULT_TEMPLATE_SPEC)


def read_label(
    digits: str, templates: Sequence[RestrictedTemplate] = DEFAULT_TEMPLATES
) -> RestrictedCode | None:
    """Given a GTIN-14, return the label the first matching template reads, else None.

    None for a global GTIN, an RCN-8 (templates read 13 digits) and a restricted code whose
    prefix no template names.
    """
    if restricted_prefix(digits) is None or digits.startswith("000000"):
        return None
    code13 = digits[1:]
    template = next((t for t in templates if t.matches(code13)), None)
    return None if template is None else template.decode(code13)


def restricted_prefix(digits: str) -> str | None:
    """Return the restricted-circulation prefix of a GTIN-14, or None for a global GTIN."""
    if digits.startswith("000000"):
        return digits[6] if digits[6] in "02" else None  # RCN-8: GS1-8 prefixes 0 and 2
    if digits[0] != "0":
        return None
    code13 = digits[1:]
    if code13[0] == "2" or code13[:2] in ("02", "04"):
        return code13[:2]
    return None
