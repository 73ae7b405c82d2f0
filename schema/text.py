"""Text no database column can hold (the NUL character) is refused before anything runs.

PostgreSQL's text and JSONB refuse U+0000, so a NUL in any string argument (an email, a
search, a note kept in the audit trail) failed the statement and answered ``INTERNAL`` on
PostgreSQL while SQLite stored it. Every client string enters through a GraphQL literal or a
variable, so the whole operation is refused there with ``INVALID_INPUT``, on both databases.
The literal check is a validation rule (cached with the document); variables are checked
per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MESSAGE = "Text may not contain the NUL character (U+0000)."


class NoNulInLiterals(ValidationRule):
    """Report every string literal of a document that holds a NUL."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        """Refuse one string literal holding a NUL."""
        if NUL in node.value:
            self.report_error(GraphQLError(MESSAGE, node, extensions={"code": "INVALID_INPUT"}))


class NoNulInVariables(SchemaExtension):
    """Refuse an operation whose variables hold a NUL in any string, naming where."""

    def on_execute(self) -> Iterator[None]:
        """Answer the refusal instead of running the operation (a set result skips it)."""
        where = nul_path(self.execution_context.variables or {}, "")
        if where is not None:
            error = GraphQLError(MESSAGE, extensions={"code": "INVALID_INPUT", "field": where})
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


def nul_path(value: object, where: str) -> str | None:
    """Return the path (``input.lines[0].gtin``) of the first string holding a NUL, or None."""
    if isinstance(value, str):
        return where if NUL in value else None
    if isinstance(value, dict):
        # Keys are field and variable names, which GraphQL itself checks.
        for key, item in value.items():
            found = nul_path(item, f"{where}.{key}" if where else key)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None
