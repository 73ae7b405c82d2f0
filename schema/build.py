"""The GraphQL schema: every query, mutation and subscription, with its limits and errors."""

from __future__ import annotations

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from schema.accounts import AccountMutation, AccountQuery
from schema.analytics import AnalyticsQuery
from schema.carts.handoff import HandoffMutation, HandoffSubscription
from schema.carts.mutations import CartMutation
from schema.carts.queries import CartQuery
from schema.carts.subscriptions import CartSubscription
from schema.carts.types import LINE_QUANTITY_SCALAR, Cart, Customer, LineQuantity
from schema.catalog import CatalogQuery, Product, ScanMutation, Store
from schema.club import ClubMutation, ClubQuery
from schema.context import OperationTransaction
from schema.cost import KnownCosts, QueryCostLimit
from schema.errors import CodedErrors, QuietSchema
from schema.front import FrontQuery
from schema.hooks import HookRunner
from schema.node import NodeQuery
from schema.notifications import NotificationMutation, NotificationQuery
from schema.orders.actions import OrderActionMutation
from schema.orders.checkout import CheckoutMutation
from schema.orders.queries import OrderQuery
from schema.orders.subscriptions import OrderSubscription
from schema.orders.types import Order
from schema.persisted import (
    PersistedDocuments,
    PersistedQueries,
    PreparedDocuments,
    pwa_registry,
)
from schema.search import SearchQuery
from schema.staff import StaffMutation, StaffQuery, StaffUser
from schema.stock import StockMutation, StockQuery, StockSubscription
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
        FrontQuery,
        CartQuery,
        AccountQuery,
        OrderQuery,
        StaffQuery,
        AnalyticsQuery,
        StockQuery,
        NotificationQuery,
        ClubQuery,
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
        StockMutation,
        NotificationMutation,
        ClubMutation,
    ),
)
Subscription = merge_types(
    "Subscription",
    (CartSubscription, HandoffSubscription, OrderSubscription, StockSubscription),
)


class OmnicartSchema(QuietSchema):
    """The schema's Strawberry class: quiet errors, and extension hooks looked up once."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> HookRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)


def build_schema(
    settings: Settings, persisted: PersistedDocuments | None = None
) -> strawberry.Schema:
    """Return the GraphQL schema with the limits and error handling the settings ask for.

    ``persisted`` is the registry of documents run by hash (``schema/persisted.py``); by
    default one with the PWA's documents pinned.

    Each document text is parsed and validated once per schema (``PreparedDocuments``, with
    the depth and alias rules built here once): the shop's clients send the same few
    documents over and over.
    """
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
        NoNulInLiterals,
    ]
    if not settings.introspection_enabled:
        limits.append(NoSchemaIntrospectionCustomRule)
    documents = pwa_registry(settings.max_persisted_queries) if persisted is None else persisted
    prepared = PreparedDocuments(PARSE_CACHE_SIZE, settings.max_query_tokens, limits)
    costs = KnownCosts(PARSE_CACHE_SIZE)
    return OmnicartSchema(
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
            # The token limit, parsing, validation (with the limits above) and APQ.
            lambda: PersistedQueries(documents, prepared),
            lambda: QueryCostLimit(settings.max_query_cost, costs),
        ],
    )
