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
    return any(_writes(query, name) for name in _root_fields(operation.selection_set, fragments))


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


def _writes(query: GraphQLObjectType, name: str) -> bool:
    field = query.fields.get(name)
    definition = (field.extensions or {}).get("strawberry-definition") if field else None
    metadata = getattr(definition, "metadata", None) or {}
    return bool(metadata.get("omnicart.writes"))
