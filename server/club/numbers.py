"""Member numbers: ten digits on the member card, the last a Luhn check digit.

The first nine digits are random (``secrets``), the first of them never 0, so a number
says nothing about when or in which order members joined and cannot be counted through;
the check digit (``stdnum.luhn``, like order numbers) catches any one mistyped digit and
most swapped neighbours at the till. Spaces and dashes do not matter when one is typed.
"""

from __future__ import annotations

import re
import secrets

from stdnum import luhn

LENGTH = 10
_DIGITS = re.compile(r"^\d{10}$")


def new_member_number() -> str:
    """Return a fresh random member number (uniqueness is the database's to check)."""
    body = str(secrets.randbelow(9 * 10 ** (LENGTH - 2)) + 10 ** (LENGTH - 2))
    return body + luhn.calc_check_digit(body)


def normalise_member_number(text: str) -> str | None:
    """Return the canonical form of a typed or scanned member number, or None if not one."""
    compact = "".join(ch for ch in text if ch not in " -\t")
    if not _DIGITS.match(compact) or compact[0] == "0" or not luhn.is_valid(compact):
        return None
    return compact
