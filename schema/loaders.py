"""Per-operation DataLoaders: a relation reached from a list costs one query, not one per row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

from strawberry.dataloader import DataLoader

from server import accounts, carts, catalog, orders, pricing, staff
from server.club import membership, points
from server.config import Settings
from server.db import Session
from server.models import Customer, Product, Store
from server.viewer import Viewer

K = TypeVar("K")
V = TypeVar("V")


class OperationScope(Protocol):
    """What the loaders need of their operation (``schema.context.Context``)."""

    @property
    def settings(self) -> Settings:
        """Return the settings in force."""
        ...

    async def session(self) -> Session:
        """Return the operation's session."""
        ...

    async def viewer(self) -> Viewer:
        """Return who is asking."""
        ...


def _loader(
    ctx: OperationScope,
    fetch: Callable[[Session, list[K]], Awaitable[Mapping[K, V]]],
    default: Callable[[], V] | None = None,
) -> DataLoader[K, V | None]:
    """Build a DataLoader from a service function that fetches a mapping for a batch of keys."""

    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(await ctx.session(), keys)
        return [found.get(k, default() if default else None) for k in keys]

    return DataLoader(load_fn=load)


# A customer, and the page of their orders asked for: (customer id, before id, first).
OrdersPageKey = tuple[int, int | None, int]


async def _customer_orders(
    session: Session, keys: list[OrdersPageKey]
) -> Mapping[OrdersPageKey, orders.OrderPage]:
    """Fetch the order pages of many customers: one query per distinct page asked for."""
    pages: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    for customer_id, before_id, first in keys:
        pages[before_id, first].append(customer_id)
    found: dict[OrdersPageKey, orders.OrderPage] = {}
    for (before_id, first), customer_ids in pages.items():
        by_customer = await orders.customer_orders(
            session, customer_ids, before_id=before_id, first=first
        )
        for customer_id, page in by_customer.items():
            found[customer_id, before_id, first] = page
    return found


class Loaders:
    """The loaders of one operation, bound to its session."""

    def __init__(self, ctx: OperationScope) -> None:
        self._ctx = ctx
        currency = ctx.settings.currency

        async def prices(session: Session, ids: list[int]) -> Mapping[int, pricing.PriceInfo]:
            # A signed-in club member sees (and pays) member prices everywhere.
            member = await membership.is_member(session, (await ctx.viewer()).customer_id)
            return await pricing.unit_prices(session, ids, currency, member=member)

        self.product: DataLoader[int, Product | None] = _loader(ctx, catalog.products_by_ids)
        self.barcodes: DataLoader[int, list[str] | None] = _loader(
            ctx, catalog.barcodes_by_product, list
        )
        self.price: DataLoader[int, pricing.PriceInfo | None] = _loader(ctx, prices)
        self.stock: DataLoader[int, list[catalog.StockFigure] | None] = _loader(
            ctx, catalog.stock_by_product, list
        )
        self.store: DataLoader[int, Store | None] = _loader(ctx, catalog.stores_by_ids)
        self.customer: DataLoader[int, Customer | None] = _loader(ctx, accounts.customers_by_ids)
        self.customer_cart: DataLoader[int, carts.CartView | None] = _loader(
            ctx, carts.active_carts_of
        )
        self.customer_orders: DataLoader[OrdersPageKey, orders.OrderPage | None] = _loader(
            ctx, _customer_orders
        )
        self.order_lines: DataLoader[int, list[orders.OrderLineView] | None] = _loader(
            ctx, orders.lines_by_order, list
        )
        self.order_history: DataLoader[int, list[orders.StatusChangeView] | None] = _loader(
            ctx, orders.history_by_order, list
        )
        self.staff_user: DataLoader[int, staff.StaffRecord | None] = _loader(
            ctx, staff.staff_by_ids
        )
        self.purchases: DataLoader[int, list[staff.PurchasedProduct] | None] = _loader(
            ctx, staff.purchase_history, list
        )
        self.points_used: DataLoader[int, int | None] = _loader(ctx, points.points_used)
        self._stores: Sequence[Store] | None = None
        self._stores_lock = asyncio.Lock()

    async def all_stores(self) -> Sequence[Store]:
        """Return every store once per operation (they are few and shown together)."""
        async with self._stores_lock:
            if self._stores is None:
                self._stores = await catalog.list_stores(await self._ctx.session())
                for store in self._stores:
                    self.store.prime(store.id, store)
        return self._stores

    def prime_products(self, products: Iterable[Product]) -> None:
        """Seed the product loader with rows already fetched by another query."""
        for product in products:
            self.product.prime(product.id, product)
