"""Relay-style global ids: ``base64("Type:pk")``, opaque to clients and checked on the way in."""

from __future__ import annotations

import base64
import binascii

from server.errors import InvalidInput
from server.models.base import MAX_KEY


def encode_id(type_name: str, pk: int | str) -> str:
    """Return the global id of the row ``pk`` of GraphQL type ``type_name``."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_any_id(global_id: str) -> tuple[str, str]:
    """Split a global id into its type name and primary key, or raise InvalidInput."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        type_name, pk = raw.split(":", 1)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidInput(f"{global_id!r} is not a valid id.", field="id") from exc
    if not type_name or not pk:
        raise InvalidInput(f"{global_id!r} is not a valid id.", field="id")
    return type_name, pk


def parse_key(text: str) -> int | None:
    """Return the number ``text`` spells if it can be a key (ASCII digits, 0 to MAX_KEY), else None.

    Longer numbers are refused before ``int()``, which would refuse past 4,300 digits itself.
    """
    if not (text.isascii() and text.isdecimal()) or len(text) > len(str(MAX_KEY)):
        return None
    value = int(text)
    return value if value <= MAX_KEY else None


def decode_id(global_id: str, expected_type: str, *, field: str = "id") -> int:
    """Return the integer primary key of a global id of ``expected_type``, or raise InvalidInput."""
    type_name, raw = decode_any_id(global_id)
    pk = parse_key(raw) if type_name == expected_type else None
    if pk is None:
        raise InvalidInput(f"{global_id!r} is not a {expected_type} id.", field=field)
    return pk
