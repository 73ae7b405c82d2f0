"""Queries that write: how a field declares it, and how an operation finds out before it runs.

A staff lookup of customers writes its audit row in the operation's one transaction, so
that no customer is shown without the row. On SQLite a transaction that first reads and
then writes can fail at once when another writer got in between, so such an operation must
begin as a write transaction (``BEGIN IMMEDIATE``, in the writer line), before any field
opens the session. ``OperationTransaction`` asks ``writes_in_query`` when it starts.

A query commits even when another of its fields failed: each writing field runs in a
savepoint of its own (``schema.mutations.run_in_operation``), and a field that was answered
must keep its audit row. A failed commit answers no data at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast

# ``strawberry.field(metadata=WRITES)`` marks a root query field whose resolver writes.
WRITES: Mapping[str, Any] = {"omnicart.writes": True}
# ``metadata=COUNTS_ATTEMPTS`` marks a root field that counts failed attempts
# (``call.attempts()``): a SQLite write operation selecting one opens the savepoint the
# count survives a rollback through (``server.ratelimit.OperationAttemptCounter``).
COUNTS_ATTEMPTS: Mapping[str, Any] = {"omnicart.counts_attempts": True}


@dataclass(frozen=True, slots=True)
class OperationShape:
    """What an operation selects at its root: how many fields, and whether one counts attempts.

    A mutation of one root field that counts no attempts (``lone``) runs without savepoints:
    a refusal rolls the whole transaction back instead (``schema.mutations.run_mutation``).
    """

    root_fields: int
    counts_attempts: bool

    @property
    def lone(self) -> bool:
        """Tell whether the operation is one root field that counts no attempts."""
        return self.root_fields == 1 and not self.counts_attempts


# Unknown shape (a context used outside an operation): savepoints, attempts counted.
UNKNOWN_SHAPE = OperationShape(root_fields=0, counts_attempts=True)


def shape_of(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> OperationShape:
    """Return the root shape of the operation (``@skip``/``@include`` count as selected)."""
    operation = get_operation_ast(document, operation_name) if document is not None else None
    if operation is None or document is None:
        return UNKNOWN_SHAPE
    root = schema.get_root_type(operation.operation)
    if root is None:
        return UNKNOWN_SHAPE
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names = list(_root_fields(operation.selection_set, fragments))
    counts = any(_marked(root, name, "omnicart.counts_attempts") for name in names)
    return OperationShape(root_fields=len(names), counts_attempts=counts)


def writes_in_query(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> bool:
    """Tell whether a query operation selects a root field declared with ``WRITES``.

    ``@skip`` and ``@include`` are not weighed: a field they leave out still counts, which
    only opens a write transaction that was not needed.
    """
    query = schema.query_type
    operation = get_operation_ast(document, operation_name) if document is not None else None
    if operation is None or query is None or document is None:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return any(
        _marked(query, name, "omnicart.writes")
        for name in _root_fields(operation.selection_set, fragments)
    )


def _root_fields(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[str]:
    seen: set[str] = set()
    pending = [selections]
    while pending:
        for selection in pending.pop().selections or ():
            if isinstance(selection, FieldNode):
                yield selection.name.value
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    pending.append(fragments[name].selection_set)


def _marked(root: GraphQLObjectType, name: str, mark: str) -> bool:
    field = root.fields.get(name)
    definition = (field.extensions or {}).get("strawberry-definition") if field else None
    metadata = getattr(definition, "metadata", None) or {}
    return bool(metadata.get(mark))
