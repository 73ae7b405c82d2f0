"""How failures reach GraphQL clients: ``UserError`` in payloads, coded errors in queries."""

from __future__ import annotations

import logging

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from server.errors import AppError, ErrorCode

log = logging.getLogger("omnicart.graphql")

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


class CodedErrors(MaskErrors):
    """Give application errors their ``extensions.code`` and mask everything unexpected."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected, error_message="Unexpected error.")

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

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed: list[GraphQLError] = []
        for error in errors:
            original = self._original(error)
            if isinstance(original, AppError):
                processed.append(
                    GraphQLError(
                        original.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions={"code": original.code, "field": original.field},
                    )
                )
            elif self._is_unexpected(error):
                log.error("unexpected error in %s", error.path, exc_info=original)
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL"}
                processed.append(masked)
            else:
                processed.append(error)
        return processed
