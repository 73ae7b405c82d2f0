"""Human order numbers: ``OC-26-000123-4``, short to read out and hard to get wrong.

``OC`` (omnicart), the two-digit year the order was placed, the order's database id
zero-padded to six digits (more once the chain passes a million orders), and a Luhn check
digit over the year and id digits. Apart from the fixed prefix there are only digits, so
nothing reads as O/0 or I/1, and the check digit catches any single mistyped digit and most
swapped neighbours at the pickup counter. Numbers come from the id, so placing an order
takes no shared counter (no hot row for concurrent checkouts) and no stored column (a
typed number leads straight to its row); they are unique but not gapless, and knowing
one reveals nothing: reaching an order always needs a credential.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from server.models.base import MAX_KEY

PREFIX = "OC"
_TYPED = re.compile(r"^OC(\d{2})(\d{6,12})(\d)$")


def luhn_digit(digits: str) -> int:
    """Return the Luhn check digit for a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def order_number(order_id: int, placed_at: datetime) -> str:
    """Return the order number of order ``order_id`` placed at ``placed_at``."""
    year = f"{placed_at.year % 100:02d}"
    body = f"{order_id:06d}"
    return f"{PREFIX}-{year}-{body}-{luhn_digit(year + body)}"


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    """What a well-formed order number says: the order's id and the year it was placed."""

    order_id: int
    year: int


def parse_order_number(text: str) -> ParsedNumber | None:
    """Return the order id and two-digit year of a typed number, or None when it is not one."""
    number = normalise_order_number(text)
    if number is None:
        return None
    _, year, body, _ = number.split("-")
    order_id = int(body)
    # Up to 12 digits are read, but a number past the largest key names no order.
    return ParsedNumber(order_id, int(year)) if order_id <= MAX_KEY else None


def normalise_order_number(text: str) -> str | None:
    """Return the canonical form of a typed or scanned number, or None when it is not one.

    Case, spaces and dashes do not matter; a wrong check digit is not a number.
    """
    compact = "".join(ch for ch in text.upper() if ch not in " -\t")
    match = _TYPED.match(compact)
    if match is None:
        return None
    year, body, check = match.groups()
    if luhn_digit(year + body) != int(check):
        return None
    return f"{PREFIX}-{year}-{body}-{check}"
