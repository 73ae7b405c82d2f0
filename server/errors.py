"""The one error tree of omnicart: every expected failure is an ``AppError`` with a stable code.

::

    AppError                      code INTERNAL (never raised directly)
    ├── InvalidInput              INVALID_INPUT
    │   ├── InvalidGtin           INVALID_GTIN
    │   ├── InvalidQuantity       INVALID_QUANTITY
    │   └── CodeExpired           CODE_EXPIRED
    ├── NotFound                  NOT_FOUND
    ├── Conflict                  CONFLICT
    │   ├── VersionConflict       VERSION_CONFLICT
    │   ├── InsufficientStock     INSUFFICIENT_STOCK
    │   ├── InvalidTransition     INVALID_TRANSITION
    │   └── IdempotencyKeyReused  IDEMPOTENCY_KEY_REUSED
    ├── PermissionDenied          UNAUTHORIZED
    ├── RateLimited               RATE_LIMITED
    └── ServiceUnavailable        SERVICE_UNAVAILABLE
        └── SearchUnavailable     SEARCH_UNAVAILABLE

GraphQL mutations turn these into ``UserError`` entries; queries into GraphQL errors with
``extensions.code``; plain HTTP routes into ``{"error": {"code", "message", "field"}}``.
Anything that is not an ``AppError`` is unexpected: it is logged and masked.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """An expected failure with a stable machine-readable ``code`` and a human message."""

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape shared by every plain HTTP error response."""
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInput(AppError):
    """The caller sent something malformed; retrying the same input fails the same way."""

    code = "INVALID_INPUT"


class InvalidGtin(InvalidInput):
    """A scanned or typed code is not a valid GTIN (length, characters or check digit)."""

    code = "INVALID_GTIN"


class InvalidQuantity(InvalidInput):
    """A quantity is outside the allowed range."""

    code = "INVALID_QUANTITY"


class CodeExpired(InvalidInput):
    """A token or single-use code is expired, already used, or unknown."""

    code = "CODE_EXPIRED"


class NotFound(AppError):
    """The thing does not exist, or the caller may not know that it exists."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(AppError):
    """The request is well formed but clashes with the current state."""

    code = "CONFLICT"
    http_status = 409


class VersionConflict(Conflict):
    """An ``expectedVersion`` is stale; ``details`` carries the current object."""

    code = "VERSION_CONFLICT"


class InsufficientStock(Conflict):
    """Less is available than asked for; ``details`` names the lines and what is available."""

    code = "INSUFFICIENT_STOCK"


class InvalidTransition(Conflict):
    """An order cannot move from its current status to the one asked for."""

    code = "INVALID_TRANSITION"


class IdempotencyKeyReused(Conflict):
    """An idempotency key already stands for a different request on the same cart."""

    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422


class PermissionDenied(AppError):
    """The caller is not signed in as someone allowed to do this."""

    code = "UNAUTHORIZED"
    http_status = 403


class RateLimited(AppError):
    """Too many attempts in a short time; try again later."""

    code = "RATE_LIMITED"
    http_status = 429


class ServiceUnavailable(AppError):
    """A backing service (database, search, broker) cannot be reached right now."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503


class SearchUnavailable(ServiceUnavailable):
    """The search engine cannot answer; product lookups by barcode still work."""

    code = "SEARCH_UNAVAILABLE"
