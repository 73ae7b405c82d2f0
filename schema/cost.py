"""What an operation costs, worked out before it runs, and the extension refusing the costly.

Depth, alias and token limits bound the text of a request, not its work: thirty aliases of
``products(gtins: $g)`` with a hundred barcodes and two levels of ``alternatives`` pass all
three and still ask for tens of millions of values. The cost is an upper bound of the values
an answer can hold. Every object and every scalar counts 1 (``__typename`` 0), and a list
multiplies its item (the item itself plus its selection) by how many items it can return:

- its own ``first`` (literal, variable, variable default or argument default) or the length
  of its ``gtins``, at most ``LARGEST_PAGE``: no list serves more at a time (each refuses or
  clamps a larger ``first``, ``products`` refuses over 100 barcodes, all before any work), so
  an absurd ``first`` gets that list's own typed error; one left unknown counts as the most;
- for a connection (an object with ``first``), that ``first`` sizes the lists directly inside
  it (``edges``, ``entries``);
- ``LIST_SIZES`` for lists bounded elsewhere (two facets of up to 100 values);
- otherwise ``DEFAULT_LIST_SIZE`` (stores, lines, history).

Introspection is bounded by the schema, not by the request: ``__schema`` counts a fixed
``INTROSPECTION_COSTS`` (a full introspection of this schema holds some 6,000 values, so one
fits the budget and a few aliased copies do not), ``__type`` a type's worth.

A fragment is walked once per context and its cost reused, so the walk is linear in the
document however often fragments spread each other. Alternatives of alternatives are refused
whatever they cost: no screen shows them, and every level multiplies the search work by its
page.

Variables decide sizes, so the cost is worked out when the operation is about to execute
(the validation cache keys on the document alone), on the already validated document. An
operation none of whose sizes reads a variable (every mutation the shop sends) costs the same
whatever its variables, so that cost is kept by the document's text (``KnownCosts``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.catalog import MAX_BATCH_GTINS
from search.query import MAX_FACET_VALUES

DEFAULT_LIST_SIZE = 20
LARGEST_PAGE = max(MAX_BATCH_GTINS, 100)
LIST_SIZES: Mapping[tuple[str, str], int] = {
    ("SearchResult", "facets"): 2,
    ("Facet", "values"): MAX_FACET_VALUES,
}
NESTED_REFUSED = ("Product", "alternatives")
INTROSPECTION_COSTS: Mapping[str, int] = {"__schema": 10_000, "__type": 200}


class OperationCost:
    """The cost of one operation of a document with its variables (see the module docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.nested_alternatives = False
        self.total = 0
        # Whether a size was read from a variable: only then do the variables change the cost.
        self.reads_variables = False
        self._memo: dict[tuple[str, int | None, bool], int] = {}
        self._variables: dict[str, Any] = {}
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return  # execution reports the missing or ambiguous operation
        given = variables or {}
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name in given:
                self._variables[name] = given[name]
            elif definition.default_value is not None:
                self._variables[name] = value_from_ast_untyped(definition.default_value)
        root = schema.get_root_type(operation.operation)
        if root is not None:
            self.total = self._selections(root, operation.selection_set, None, False)

    def _selections(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode,
        page: int | None,
        in_alternatives: bool,
    ) -> int:
        total = 0
        for selection in selection_set.selections or ():
            if isinstance(selection, FieldNode):
                total += self._field(parent, selection, page, in_alternatives)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                if inner is not None:
                    total += self._selections(inner, selection.selection_set, page, in_alternatives)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread(selection.name.value, page, in_alternatives)
        return total

    def _spread(self, name: str, page: int | None, in_alternatives: bool) -> int:
        key = (name, page, in_alternatives)
        if key not in self._memo:
            self._memo[key] = 0  # validation forbids fragment cycles; this stops one anyway
            fragment = self.fragments.get(name)
            if fragment is None:
                return 0
            condition = self.schema.get_type(fragment.type_condition.name.value)
            if condition is not None:
                self._memo[key] = self._selections(
                    condition, fragment.selection_set, page, in_alternatives
                )
        return self._memo[key]

    def _field(
        self, parent: GraphQLNamedType, node: FieldNode, page: int | None, in_alternatives: bool
    ) -> int:
        name = node.name.value
        if name.startswith("__"):
            return INTROSPECTION_COSTS.get(name, 0)
        definition = (
            parent.fields.get(name)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None:  # only in a document validation would refuse
            return 1
        nested = (parent.name, name) == NESTED_REFUSED
        if nested and in_alternatives:
            self.nested_alternatives = True
        asked = self._asked_size(node, definition)
        size, inner_page = 1, None
        if is_list_type(get_nullable_type(definition.type)):
            size = _first_known(asked, LIST_SIZES.get((parent.name, name)), page, DEFAULT_LIST_SIZE)
        else:
            inner_page = asked  # a connection: its first sizes the lists inside it
        inner = 0
        if node.selection_set is not None:
            inner = self._selections(
                get_named_type(definition.type),
                node.selection_set,
                inner_page,
                in_alternatives or nested,
            )
        return size * (1 + inner)

    def _asked_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """Return how many items the field's ``first`` or ``gtins`` asks for, if it has one."""
        size: int | None = None
        if "first" in definition.args:
            first = self._argument(node, definition, "first")
            size = first if isinstance(first, int) and not isinstance(first, bool) else None
        elif "gtins" in definition.args:
            gtins = self._argument(node, definition, "gtins")
            # A single string is coerced to a list of one; anything else fails coercion.
            size = len(gtins) if isinstance(gtins, list) else 1 if isinstance(gtins, str) else None
        else:
            return None
        return LARGEST_PAGE if size is None else min(max(size, 0), LARGEST_PAGE)

    def _argument(self, node: FieldNode, definition: GraphQLField, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                self.reads_variables = self.reads_variables or _has_variable(argument.value)
                value = value_from_ast_untyped(argument.value, self._variables)
                if value is not Undefined:
                    return value
                break  # a variable not given leaves the argument to its default
        return definition.args[name].default_value


def _has_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(field.value) for field in value.fields)
    return False


def _first_known(*sizes: int | None) -> int:
    return next(size for size in sizes if size is not None)


def too_costly(cost: OperationCost, budget: int) -> GraphQLError | None:
    """Return the refusal of an operation over the budget or nesting alternatives, else None."""
    if cost.total > budget:
        message = (
            f"This operation would cost {cost.total}, over the budget of {budget}: ask for "
            "fewer items (smaller first or gtins, fewer aliases, fewer lists inside lists)."
        )
    elif cost.nested_alternatives:
        message = (
            "Alternatives of alternatives are not served: ask for an alternative's own "
            "alternatives on its page."
        )
    else:
        return None
    return GraphQLError(
        message, extensions={"code": "QUERY_TOO_COSTLY", "cost": cost.total, "budget": budget}
    )


class KnownCosts:
    """The costs of the operations whose sizes read no variable, by text and operation name.

    One per schema; the least recently used is forgotten beyond ``maxsize``.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._costs: OrderedDict[tuple[str, str | None], OperationCost] = OrderedDict()

    def cost(
        self,
        schema: GraphQLSchema,
        text: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> OperationCost:
        """Return the operation's cost, worked out again only when its variables may change it."""
        if text is None:
            return OperationCost(schema, document, operation_name, variables)
        key = (text, operation_name)
        known = self._costs.get(key)
        if known is not None:
            self._costs.move_to_end(key)
            return known
        cost = OperationCost(schema, document, operation_name, variables)
        if not cost.reads_variables:
            self._costs[key] = cost
            while len(self._costs) > self.maxsize:
                self._costs.popitem(last=False)
        return cost


class QueryCostLimit(SchemaExtension):
    """Refuse, before it runs, an operation costing more than the budget (see the module)."""

    def __init__(self, budget: int, known: KnownCosts) -> None:
        self.budget = budget
        self.known = known

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            cost = self.known.cost(
                context.schema._schema,
                context.query,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            error = too_costly(cost, self.budget)
            if error is not None:
                if context.operation_type == OperationType.SUBSCRIPTION:
                    # Subscriptions ignore a result set here; Strawberry answers an error
                    # raised from this hook as the subscription's one result instead.
                    raise error
                # A result set before execution skips it, and the other extensions (error
                # coding, the operation's transaction) see it like any other result.
                context.result = ExecutionResult(data=None, errors=[error])
        yield
