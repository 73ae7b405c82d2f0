"""Lists in pages: opaque cursors, and the Relay ``PageInfo`` every connection carries."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import strawberry

from schema.ids import parse_key
from server.errors import InvalidInput


@strawberry.type(description="Relay paging information.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More hits follow.")
    has_previous_page: bool = strawberry.field(description="Hits come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first hit.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last hit.")

    @classmethod
    def of(cls, cursors: Sequence[str], *, has_next: bool, has_previous: bool) -> PageInfo:
        """Build the paging of a page whose items carry ``cursors``, in order."""
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


def encode_cursor(kind: str, value: int) -> str:
    """Return the opaque cursor of an item of a ``kind`` of list (``order``, ``offset`` …)."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int:
    """Return the number in a cursor of ``kind``, or raise InvalidInput (on ``after``).

    The number is an id or an offset, both within the keys' range (``parse_key``).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, value = raw.split(":", 1)
        number = parse_key(value) if found == kind else None
        if number is None:
            raise ValueError(raw)
        return number
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidInput("That cursor is not one this server handed out.", field="after") from exc
