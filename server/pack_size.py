"""Pack sizes read from a product's printed quantity, and the comparison price they give.

Shoppers compare by price per kilogram, litre or piece (kr/kg, kr/l, kr/stk). The catalog
only has the quantity as printed (``500 g``, ``1,5 l``, ``6 x 0.33 l``, ``4 stk``), so this
module reads it, strictly: a quantity that does not match the grammar below in full gives
no pack size, and so no comparison price, never a wrong one.

Grammar (case-insensitive, spaces optional)::

    quantity := [count ("x" | "×" | "*")] number unit ["e" | "℮"]
    number   := digits [("," | ".") digits]
    unit     := kg | g | mg | l | dl | cl | ml | stk | st | pcs | pk

A printed size with a metric one in brackets (``3.75 oz (106 g)``, ``1 gallon (3.78 L)``)
uses the bracketed one; imperial units alone (``12 oz``) and bare numbers (``1``) give none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

PackUnit = Literal["kg", "l", "piece"]

# Unit as printed → (the unit compared by, how many of it one printed unit is).
_UNITS: dict[str, tuple[PackUnit, Fraction]] = {
    "kg": ("kg", Fraction(1)),
    "g": ("kg", Fraction(1, 1000)),
    "mg": ("kg", Fraction(1, 1_000_000)),
    "l": ("l", Fraction(1)),
    "dl": ("l", Fraction(1, 10)),
    "cl": ("l", Fraction(1, 100)),
    "ml": ("l", Fraction(1, 1000)),
    "stk": ("piece", Fraction(1)),
    "st": ("piece", Fraction(1)),
    "pcs": ("piece", Fraction(1)),
    "pk": ("piece", Fraction(1)),
}
_NUMBER = r"\d{1,6}(?:[.,]\d{1,4})?"
_SIZE = re.compile(
    rf"(?:(?P<count>\d{{1,3}})\s*[x×*]\s*)?(?P<number>{_NUMBER})\s*"
    rf"(?P<unit>{'|'.join(sorted(_UNITS, key=len, reverse=True))})\.?(?:\s*[e℮])?",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"^[^()]*\(([^()]*)\)\s*$")


@dataclass(frozen=True, slots=True)
class Pack:
    """How much one pack holds, in the unit it is compared by."""

    amount: Fraction
    unit: PackUnit


def _whole(text: str) -> Pack | None:
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        return None
    unit, factor = _UNITS[match["unit"].lower()]
    count = int(match["count"]) if match["count"] else 1
    amount = count * Fraction(match["number"].replace(",", ".")) * factor
    if amount <= 0:
        return None
    return Pack(amount, unit)


@lru_cache(maxsize=4096)
def parse_pack(quantity: str | None) -> Pack | None:
    """Return the pack size a printed quantity states, or None when it is not certain."""
    if not quantity or len(quantity) > 60:
        return None
    found = _whole(quantity)
    if found is None and (bracketed := _BRACKETED.match(quantity.strip())):
        found = _whole(bracketed[1])
    return found


def price_per_unit(amount: int, pack: Pack) -> int:
    """Return the price of one kg, litre or piece in minor units, rounded half up."""
    exact = Fraction(amount) / pack.amount
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
