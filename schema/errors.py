"""How failures reach GraphQL clients: ``UserError`` in payloads, coded errors in queries."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.types.execution import ExecutionContext

from server.errors import AppError, ErrorCode, ServiceUnavailable
from server.logs import record_of
from server.messages import error_language, localized
from server.outages import as_unavailable

log = logging.getLogger("omnicart.graphql")
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Which code names a request's outcome when its errors differ: the most serious one.
_SEVERITY = ("INTERNAL", "SERVICE_UNAVAILABLE")

# The codes are declared once, in server.errors; GraphQL shows that enum as it is.
strawberry.enum(
    ErrorCode, name="ErrorCode", description="Stable machine-readable reason of a UserError."
)


@strawberry.type(description="An expected failure of a mutation; nothing else of it took effect.")
class UserError:
    code: ErrorCode = strawberry.field(description="Why it failed.")
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    message: str = strawberry.field(description="A sentence to show a person.")

    @classmethod
    def from_error(cls, error: AppError) -> UserError:
        """Build the GraphQL shape of an application error."""
        return cls(code=ErrorCode(error.code), field=error.field, message=error.message)


class QuietSchema(strawberry.Schema):
    """A Strawberry schema that leaves logging errors to ``CodedErrors``.

    Strawberry logs every error at ERROR with the document's source around it, which
    printed a neighbouring ``password: "…"`` literal and wrote 72 KB for 30 bad barcodes.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def client_error_code(error: GraphQLError) -> str:
    """Name a refusal of the request itself: a code it carries, else parse or validation."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


class CodedErrors(MaskErrors):
    """Give application errors their ``extensions.code``, mask the unexpected, note the outcome.

    A lost database or broker connection is ``SERVICE_UNAVAILABLE`` with ``retryable: true``
    (one WARNING line); anything else unexpected is ``INTERNAL`` and logged at ERROR with its
    traceback. Expected errors are not logged one by one: the request's access line (or, over
    a WebSocket, one INFO line per operation) carries the operation name and the codes. Never
    the document, its variables or an error message (they may quote the document).
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected, error_message="Unexpected error.")
        self._codes: Counter[str] = Counter()

    @staticmethod
    def _original(error: GraphQLError) -> Exception | None:
        """Return the root cause; variable coercion wraps a scalar's error in GraphQLErrors."""
        original = error.original_error
        while isinstance(original, GraphQLError) and original.original_error is not None:
            original = original.original_error
        return original

    @classmethod
    def _is_unexpected(cls, error: GraphQLError) -> bool:
        original = cls._original(error)
        # Errors without an original are the client's: syntax, validation, limits, and
        # a variable a built-in scalar refused.
        return original is not None and not isinstance(original, AppError | GraphQLError)

    def _coded(self, error: GraphQLError, app_error: AppError) -> GraphQLError:
        request = getattr(self.execution_context.context, "request", None)
        header = request.headers.get("accept-language") if request is not None else None
        app_error = localized(app_error, error_language(header))
        extensions: dict[str, Any] = {"code": app_error.code, "field": app_error.field}
        if app_error.retryable:
            extensions["retryable"] = True
        return GraphQLError(
            app_error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )

    def _process_one(self, error: GraphQLError) -> GraphQLError:
        original = self._original(error)
        if isinstance(original, AppError):
            return self._coded(error, original)
        if not self._is_unexpected(error):
            return error
        assert original is not None
        unavailable = as_unavailable(original)
        if isinstance(unavailable, ServiceUnavailable):
            root = _root_cause(original)
            log.warning("SERVICE_UNAVAILABLE at %s: %s: %s", error.path, type(root).__name__, root)
            return self._coded(error, unavailable)
        log.error("unexpected error in %s", error.path, exc_info=original)
        masked = self.anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked

    def _process_result(self, result: object) -> None:
        # MaskErrors asks isinstance of a runtime-checkable Protocol: some 5 % of a request.
        if getattr(result, "errors", None):
            result.errors = self._process_errors(result.errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = [self._process_one(error) for error in errors]
        self._codes.update(client_error_code(error) for error in processed)
        return processed

    def on_operation(self) -> Iterator[None]:
        self._codes.clear()
        yield from super().on_operation()
        self._note_outcome()

    def _note_outcome(self) -> None:
        """Put the operation and its outcome on the access line, or log it over a WebSocket."""
        name = self.execution_context.operation_name or ""
        operation = name if _OPERATION_NAME.fullmatch(name) else ("?" if name else None)
        codes = dict(self._codes)
        outcome = next((code for code in _SEVERITY if code in codes), None)
        outcome = outcome or (max(codes, key=codes.__getitem__) if codes else "OK")
        request = getattr(self.execution_context.context, "request", None)
        record = record_of(request.scope) if request is not None else None
        if record is not None and request is not None and request.scope["type"] == "http":
            record.operation, record.outcome, record.error_codes = operation, outcome, codes
        elif codes:
            log.info("operation %s: %s %s", operation or "-", outcome, codes)


def _root_cause(exc: BaseException) -> BaseException:
    """Return the innermost cause of ``exc``: the refused socket, not the driver's wrapper."""
    while exc.__cause__ is not None and exc.__cause__ is not exc:
        exc = exc.__cause__
    return exc
