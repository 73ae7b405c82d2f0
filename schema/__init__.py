"""The GraphQL layer: Strawberry types and operations over the ``server`` services."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.accounts import AccountMutation, AccountQuery, Customer
from schema.carts import (
    LINE_QUANTITY_SCALAR,
    Cart,
    CartMutation,
    CartQuery,
    CartSubscription,
    HandoffMutation,
    LineQuantity,
)
from schema.catalog import CatalogQuery, Product, ScanMutation, Store
from schema.context import OperationTransaction
from schema.errors import CodedErrors
from schema.node import NodeQuery
from schema.search import SearchQuery
from server.config import Settings

Query = merge_types("Query", (NodeQuery, CatalogQuery, SearchQuery, CartQuery, AccountQuery))
Mutation = merge_types("Mutation", (ScanMutation, CartMutation, HandoffMutation, AccountMutation))
Subscription = merge_types("Subscription", (CartSubscription,))


def build_schema(settings: Settings) -> strawberry.Schema:
    """Return the GraphQL schema with the limits and error handling the settings ask for."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Product, Store, Cart, Customer],
        config=StrawberryConfig(scalar_map={LineQuantity: LINE_QUANTITY_SCALAR}),
        extensions=[
            OperationTransaction,
            CodedErrors,
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        ],
    )
