"""Per-operation DataLoaders: a relation reached from a list costs one query, not one per row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from strawberry.dataloader import DataLoader

from server import accounts, catalog, orders, pricing, staff
from server.models import Customer, Product, Store

if TYPE_CHECKING:
    from schema.context import Context

K = TypeVar("K")
V = TypeVar("V")


def _mapping_loader(
    lock: asyncio.Lock,
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
    default: Callable[[], V] | None = None,
) -> DataLoader[K, V | None]:
    """Build a DataLoader from a function that fetches a mapping for a batch of keys."""

    async def load(keys: list[K]) -> list[V | None]:
        async with lock:
            found = await fetch(keys)
        return [found.get(k, default() if default else None) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """The loaders of one operation, bound to its session."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        currency = ctx.settings.currency

        async def products(ids: list[int]) -> Mapping[int, Product]:
            return await catalog.products_by_ids(await ctx.session(), ids)

        async def barcodes(ids: list[int]) -> Mapping[int, list[str]]:
            return await catalog.barcodes_by_product(await ctx.session(), ids)

        async def prices(ids: list[int]) -> Mapping[int, pricing.PriceInfo]:
            return await pricing.unit_prices(await ctx.session(), ids, currency)

        async def stock(ids: list[int]) -> Mapping[int, list[catalog.StockFigure]]:
            return await catalog.stock_by_product(await ctx.session(), ids)

        async def stores(ids: list[int]) -> Mapping[int, Store]:
            return await catalog.stores_by_ids(await ctx.session(), ids)

        async def customers(ids: list[int]) -> Mapping[int, Customer]:
            return await accounts.customers_by_ids(await ctx.session(), ids)

        async def order_lines(ids: list[int]) -> Mapping[int, list[orders.OrderLineView]]:
            return await orders.lines_by_order(await ctx.session(), ids)

        async def order_history(ids: list[int]) -> Mapping[int, list[orders.StatusChangeView]]:
            return await orders.history_by_order(await ctx.session(), ids)

        async def staff_users(ids: list[int]) -> Mapping[int, staff.StaffRecord]:
            return await staff.staff_by_ids(await ctx.session(), ids)

        async def purchases(ids: list[int]) -> Mapping[int, list[staff.PurchasedProduct]]:
            return await staff.purchase_history(await ctx.session(), ids)

        lock = ctx.session_lock
        self.product: DataLoader[int, Product | None] = _mapping_loader(lock, products)
        self.barcodes: DataLoader[int, list[str] | None] = _mapping_loader(lock, barcodes, list)
        self.price: DataLoader[int, pricing.PriceInfo | None] = _mapping_loader(lock, prices)
        self.stock: DataLoader[int, list[catalog.StockFigure] | None] = _mapping_loader(
            lock, stock, list
        )
        self.store: DataLoader[int, Store | None] = _mapping_loader(lock, stores)
        self.customer: DataLoader[int, Customer | None] = _mapping_loader(lock, customers)
        self.order_lines: DataLoader[int, list[orders.OrderLineView] | None] = _mapping_loader(
            lock, order_lines, list
        )
        self.order_history: DataLoader[int, list[orders.StatusChangeView] | None] = _mapping_loader(
            lock, order_history, list
        )
        self.staff_user: DataLoader[int, staff.StaffRecord | None] = _mapping_loader(
            lock, staff_users
        )
        self.purchases: DataLoader[int, list[staff.PurchasedProduct] | None] = _mapping_loader(
            lock, purchases, list
        )
        self._stores: Sequence[Store] | None = None
        self._stores_lock = asyncio.Lock()

    async def all_stores(self) -> Sequence[Store]:
        """Return every store once per operation (they are few and shown together)."""
        async with self._stores_lock:
            if self._stores is None:
                async with self._ctx.session_lock:
                    self._stores = await catalog.list_stores(await self._ctx.session())
                for store in self._stores:
                    self.store.prime(store.id, store)
        return self._stores

    def prime_products(self, products: Iterable[Product]) -> None:
        """Seed the product loader with rows already fetched by another query."""
        for product in products:
            self.product.prime(product.id, product)
