"""Where a shopper asked to be told at checkout: an email address, a phone number, or both."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.errors import InvalidInput
from server.signin import normalise_email

# E.164-like: an optional +, then 6 to 15 digits; spaces, dashes, dots and brackets dropped.
_PHONE_NOISE = re.compile(r"[\s\-.()]")
_PHONE = re.compile(r"\+?[0-9]{6,15}")


@dataclass(frozen=True, slots=True)
class Contact:
    """A checked contact: a stored-form email and a phone of digits (with its + if given)."""

    email: str | None = None
    phone: str | None = None


def checked_contact(email: str | None, phone: str | None, *, field: str = "contact") -> Contact:
    """Return the contact in stored form, or raise InvalidInput naming the bad part."""
    checked_email = None
    if email is not None and email.strip():
        try:
            checked_email = normalise_email(email)
        except InvalidInput as error:
            raise InvalidInput(error.message, field=f"{field}.email") from None
    checked_phone = None
    if phone is not None and phone.strip():
        checked_phone = _PHONE_NOISE.sub("", phone.strip())
        if not _PHONE.fullmatch(checked_phone):
            raise InvalidInput(
                "A phone number has 6 to 15 digits, optionally after a +.", field=f"{field}.phone"
            )
    return Contact(checked_email, checked_phone)
