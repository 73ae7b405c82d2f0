"""Per-operation DataLoaders: a relation reached from a list costs one query, not one per row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Protocol, TypeVar

from strawberry.dataloader import DataLoader

from server import accounts, carts, catalog, orders, pricing, staff
from server.club import membership, points
from server.config import Settings
from server.db import Session
from server.models import Customer, Product, Store
from server.product_pages import PageRead
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

    async def read_pages(self, product_ids: list[int]) -> Mapping[int, PageRead]:
        """Return the clean read-model pages of these products, with live stock."""
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
        self._stores: Sequence[Store] | None = None
        self._stores_lock: asyncio.Lock | None = None

    # Each loader is built when a field first needs it: a product page read from the read
    # model needs none, and building a dozen per operation showed in profiles.

    @cached_property
    def product(self) -> DataLoader[int, Product | None]:
        """Products by id (inactive ones included)."""
        return _loader(self._ctx, catalog.products_by_ids)

    @cached_property
    def page(self) -> DataLoader[int, PageRead | None]:
        """Read-model pages with live stock by product id, one statement a batch (None: read
        the product from the catalog tables, a change of it is pending or it has no page)."""

        async def load(keys: list[int]) -> list[PageRead | None]:
            found = await self._ctx.read_pages(keys)
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def barcodes(self) -> DataLoader[int, list[str] | None]:
        """Each product's canonical GTINs, the primary one first."""
        return _loader(self._ctx, catalog.barcodes_by_product, list)

    @cached_property
    def price(self) -> DataLoader[int, pricing.PriceInfo | None]:
        """Each product's unit price in force now, in the settings' currency."""
        currency = self._ctx.settings.currency

        async def prices(session: Session, ids: list[int]) -> Mapping[int, pricing.PriceInfo]:
            # A signed-in club member sees (and pays) member prices everywhere.
            member = await membership.is_member(session, (await self._ctx.viewer()).customer_id)
            return await pricing.unit_prices(session, ids, currency, member=member)

        return _loader(self._ctx, prices)

    @cached_property
    def stock(self) -> DataLoader[int, list[catalog.StockFigure] | None]:
        """Each product's stock figures at every location."""
        return _loader(self._ctx, catalog.stock_by_product, list)

    @cached_property
    def store(self) -> DataLoader[int, Store | None]:
        """Stores by id."""
        return _loader(self._ctx, catalog.stores_by_ids)

    @cached_property
    def customer(self) -> DataLoader[int, Customer | None]:
        """Customers by id."""
        return _loader(self._ctx, accounts.customers_by_ids)

    @cached_property
    def customer_cart(self) -> DataLoader[int, carts.CartView | None]:
        """Each customer's active cart."""
        return _loader(self._ctx, carts.active_carts_of)

    @cached_property
    def customer_orders(self) -> DataLoader[OrdersPageKey, orders.OrderPage | None]:
        """Pages of customers' orders."""
        return _loader(self._ctx, _customer_orders)

    @cached_property
    def order_lines(self) -> DataLoader[int, list[orders.OrderLineView] | None]:
        """Each order's lines."""
        return _loader(self._ctx, orders.lines_by_order, list)

    @cached_property
    def order_history(self) -> DataLoader[int, list[orders.StatusChangeView] | None]:
        """Each order's status changes."""
        return _loader(self._ctx, orders.history_by_order, list)

    @cached_property
    def staff_user(self) -> DataLoader[int, staff.StaffRecord | None]:
        """Staff accounts by id."""
        return _loader(self._ctx, staff.staff_by_ids)

    @cached_property
    def purchases(self) -> DataLoader[int, list[staff.PurchasedProduct] | None]:
        """Each customer's purchase history."""
        return _loader(self._ctx, staff.purchase_history, list)

    @cached_property
    def points_used(self) -> DataLoader[int, int | None]:
        """Club points each order used."""
        return _loader(self._ctx, points.points_used)

    async def all_stores(self) -> Sequence[Store]:
        """Return every store once per operation (they are few and shown together)."""
        if self._stores_lock is None:
            self._stores_lock = asyncio.Lock()
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
