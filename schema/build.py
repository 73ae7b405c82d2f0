"""The GraphQL schema: every query, mutation and subscription, with its limits and errors."""

from __future__ import annotations

import strawberry
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.accounts import AccountMutation, AccountQuery
from schema.analytics import AnalyticsQuery
from schema.carts.handoff import HandoffMutation
from schema.carts.mutations import CartMutation
from schema.carts.queries import CartQuery
from schema.carts.subscriptions import CartSubscription
from schema.carts.types import LINE_QUANTITY_SCALAR, Cart, Customer, LineQuantity
from schema.catalog import CatalogQuery, Product, ScanMutation, Store
from schema.context import OperationTransaction
from schema.cost import QueryCostLimit
from schema.errors import CodedErrors, QuietSchema
from schema.node import NodeQuery
from schema.notifications import NotificationMutation, NotificationQuery
from schema.orders.actions import OrderActionMutation
from schema.orders.checkout import CheckoutMutation
from schema.orders.queries import OrderQuery
from schema.orders.subscriptions import OrderSubscription
from schema.orders.types import Order
from schema.search import SearchQuery
from schema.staff import StaffMutation, StaffQuery, StaffUser
from schema.text import NoNulInLiterals, NoNulInVariables
from server.config import Settings

# Distinct operation texts whose parse and validation results are kept.
PARSE_CACHE_SIZE = 512

Query = merge_types(
    "Query",
    (
        NodeQuery,
        CatalogQuery,
        SearchQuery,
        CartQuery,
        AccountQuery,
        OrderQuery,
        StaffQuery,
        AnalyticsQuery,
        NotificationQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ScanMutation,
        CartMutation,
        HandoffMutation,
        AccountMutation,
        CheckoutMutation,
        OrderActionMutation,
        StaffMutation,
        NotificationMutation,
    ),
)
Subscription = merge_types("Subscription", (CartSubscription, OrderSubscription))


def build_schema(settings: Settings) -> strawberry.Schema:
    """Return the GraphQL schema with the limits and error handling the settings ask for.

    The depth and alias rules are built once per schema, not per request, so that the
    validation cache (keyed on document and rules) answers repeated operations — the
    shop's clients send the same few documents over and over.
    """
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
        NoNulInLiterals,
    ]
    switches = [] if settings.introspection_enabled else [DisableIntrospection]
    return QuietSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Product, Store, Cart, Customer, Order, StaffUser],
        config=StrawberryConfig(scalar_map={LineQuantity: LINE_QUANTITY_SCALAR}),
        extensions=[
            # Listed first, so it sees the errors last: commit failures included.
            CodedErrors,
            OperationTransaction,
            NoNulInVariables,
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: ParserCache(maxsize=PARSE_CACHE_SIZE),
            lambda: AddValidationRules(limits),
            lambda: ValidationCache(maxsize=PARSE_CACHE_SIZE),
            lambda: QueryCostLimit(settings.max_query_cost),
            *switches,
        ],
    )
