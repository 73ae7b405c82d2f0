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
    │   ├── InsufficientPoints    INSUFFICIENT_POINTS
    │   ├── InvalidTransition     INVALID_TRANSITION
    │   └── IdempotencyKeyReused  IDEMPOTENCY_KEY_REUSED
    ├── PermissionDenied          UNAUTHORIZED
    ├── RateLimited               RATE_LIMITED
    └── ServiceUnavailable        SERVICE_UNAVAILABLE
        └── SearchUnavailable     SEARCH_UNAVAILABLE

Every code is a member of ``ErrorCode``, the one list of them (the GraphQL ``ErrorCode``
enum is this class, in this order). GraphQL mutations turn these into ``UserError`` entries;
queries into GraphQL errors with ``extensions.code`` (and ``extensions.retryable`` on
``ServiceUnavailable``); plain HTTP routes into ``{"error": {"code", "message", "field"}}``.
``server.outages`` tells which unexpected exceptions are really a lost database or broker
connection (``ServiceUnavailable``). Anything that is not an ``AppError`` is unexpected: it is
logged and masked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """The stable machine-readable reason of every expected failure."""

    INVALID_INPUT = "INVALID_INPUT"
    INVALID_GTIN = "INVALID_GTIN"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    CODE_EXPIRED = "CODE_EXPIRED"
    UNAUTHORIZED = "UNAUTHORIZED"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    SEARCH_UNAVAILABLE = "SEARCH_UNAVAILABLE"
    INTERNAL = "INTERNAL"


class AppError(Exception):
    """An expected failure with a stable machine-readable ``code`` and a human message."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 400
    # True when the same request may succeed later unchanged (a backing service came back).
    retryable: ClassVar[bool] = False

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

    code = ErrorCode.INVALID_INPUT


class InvalidGtin(InvalidInput):
    """A scanned or typed code is not a valid GTIN (length, characters or check digit)."""

    code = ErrorCode.INVALID_GTIN


class InvalidQuantity(InvalidInput):
    """A quantity is outside the allowed range."""

    code = ErrorCode.INVALID_QUANTITY


class CodeExpired(InvalidInput):
    """A token or single-use code is expired, already used, or unknown."""

    code = ErrorCode.CODE_EXPIRED


class NotFound(AppError):
    """The thing does not exist, or the caller may not know that it exists."""

    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(AppError):
    """The request is well formed but clashes with the current state."""

    code = ErrorCode.CONFLICT
    http_status = 409


class VersionConflict(Conflict):
    """An ``expectedVersion`` is stale; ``details`` carries the current object."""

    code = ErrorCode.VERSION_CONFLICT


class InsufficientStock(Conflict):
    """Less is available than asked for; ``details`` names the lines and what is available."""

    code = ErrorCode.INSUFFICIENT_STOCK


class InsufficientPoints(Conflict):
    """A checkout asks to pay with more club points than the member has."""

    code = ErrorCode.INSUFFICIENT_POINTS


class InvalidTransition(Conflict):
    """An order cannot move from its current status to the one asked for."""

    code = ErrorCode.INVALID_TRANSITION


class IdempotencyKeyReused(Conflict):
    """An idempotency key already stands for a different request on the same cart."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED
    http_status = 422


class PermissionDenied(AppError):
    """The caller is not signed in as someone allowed to do this."""

    code = ErrorCode.UNAUTHORIZED
    http_status = 403


class RateLimited(AppError):
    """Too many attempts in a short time; try again later."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429


class ServiceUnavailable(AppError):
    """A backing service (database, search, broker) cannot be reached right now."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    http_status = 503
    retryable = True


class SearchUnavailable(ServiceUnavailable):
    """The search engine cannot answer; product lookups by barcode still work."""

    code = ErrorCode.SEARCH_UNAVAILABLE
