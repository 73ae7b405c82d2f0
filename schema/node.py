"""The ``node(id)`` entry point: any object with a global id, fetched by its type's resolver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from schema.carts.queries import cart_for
from schema.carts.types import Customer
from schema.catalog import Node, Product, Store
from schema.context import context_of
from schema.ids import decode_any_id, parse_key

NodeResolver = Callable[[Info[Any, Any], int], Awaitable[Node | None]]
_RESOLVERS: dict[str, NodeResolver] = {}


def node_resolver(type_name: str) -> Callable[[NodeResolver], NodeResolver]:
    """Register how ``node(id)`` fetches objects of one GraphQL type."""

    def register(fn: NodeResolver) -> NodeResolver:
        _RESOLVERS[type_name] = fn
        return fn

    return register


@node_resolver("Product")
async def _product(info: Info[Any, Any], pk: int) -> Node | None:
    row = await context_of(info).loaders.product.load(pk)
    if row is None or not row.active:
        return None
    return await Product.load(info, row)


@node_resolver("Store")
async def _store(info: Info[Any, Any], pk: int) -> Node | None:
    row = await context_of(info).loaders.store.load(pk)
    return Store.from_model(row) if row else None


@node_resolver("Cart")
async def _cart(info: Info[Any, Any], pk: int) -> Node | None:
    return await cart_for(info, pk)


@node_resolver("Customer")
async def _customer(info: Info[Any, Any], pk: int) -> Node | None:
    # Customers see themselves only; anyone else's id answers like a missing one.
    ctx = context_of(info)
    if (await ctx.viewer()).customer_id != pk:
        return None
    row = await ctx.loaders.customer.load(pk)
    return Customer.from_model(row, with_cart=True) if row else None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if it does not exist for you.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        type_name, raw = decode_any_id(id)
        resolver, pk = _RESOLVERS.get(type_name), parse_key(raw)
        if resolver is None or pk is None:
            return None
        return await resolver(info, pk)
