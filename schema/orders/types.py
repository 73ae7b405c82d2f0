"""Order types: the order with its line snapshots, totals, history and paging."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema import paging
from schema.catalog import Money, Node, Product, Store
from schema.context import context_of
from schema.customer_ref import CustomerRef
from schema.ids import encode_id
from schema.paging import PageInfo
from server.gtin import Gtin
from server.orders import OrderLineView, OrderPage, OrderView, StatusChangeView, UnavailableLine
from server.staff import staff_actor
from server.states import FulfilmentMethod, OrderChannel, OrderStatus

# The GraphQL enums are the server's own state enums (server.states): one spelling of each.
strawberry.enum(OrderStatus, name="OrderStatus", description="Where an order is in its life.")
strawberry.enum(
    FulfilmentMethod, name="FulfilmentMethod", description="How an order reaches the shopper."
)
strawberry.enum(OrderChannel, name="OrderChannel", description="Where an order was placed.")

# ``Customer`` reaches its purchases, which are orders: named lazily (the module's path,
# resolved when the schema is built), answered as a ``CustomerRef``.
OrderCustomer = Annotated["Customer", strawberry.lazy("schema.carts.types")]  # type: ignore[name-defined]  # noqa: F821


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


@strawberry.type(description="A product of an order, as it was when the order was placed.")
class OrderLine:
    id: strawberry.ID = strawberry.field(description="The order line's global id.")
    name: str = strawberry.field(description="The product's name at checkout.")
    gtin: str = strawberry.field(description="The product's barcode at checkout, as printed.")
    quantity: int = strawberry.field(description="Units ordered.")
    returned_quantity: int = strawberry.field(description="Units brought back since.")
    campaign_name: str | None = strawberry.field(
        description="The campaign whose price applied at checkout, if one did."
    )
    view: strawberry.Private[OrderLineView]
    currency: strawberry.Private[str]

    @classmethod
    def from_model(cls, view: OrderLineView, currency: str) -> OrderLine:
        """Build the GraphQL line from its snapshot."""
        return cls(
            id=strawberry.ID(encode_id("OrderLine", view.id)),
            name=view.name,
            gtin=str(Gtin(view.gtin)) if len(view.gtin) == 14 else view.gtin,
            quantity=view.quantity,
            returned_quantity=view.returned_quantity,
            campaign_name=view.campaign_name,
            view=view,
            currency=currency,
        )

    @strawberry.field(description="The product's page as it is now.")
    async def product(self, info: Info) -> Product | None:
        return await Product.by_id(info, self.view.product_id, active_only=False)

    @strawberry.field(description="The price of one unit at checkout.")
    def unit_price(self) -> Money:
        return _money(self.view.unit_price, self.currency)

    @strawberry.field(description="The regular price of one unit at checkout.")
    def regular_unit_price(self) -> Money:
        return _money(self.view.regular_unit_price, self.currency)

    @strawberry.field(description="Unit price at checkout times quantity.")
    def line_total(self) -> Money:
        return _money(self.view.line_total, self.currency)


@strawberry.type(description="One step in an order's life.")
class OrderStatusChange:
    from_status: OrderStatus | None = strawberry.field(description="Null for placing the order.")
    to_status: OrderStatus = strawberry.field(description="The status it moved to.")
    actor: str = strawberry.field(
        description="Who moved it: customer, guest, kiosk, staff, device (a staff tablet), system."
    )
    note: str | None = strawberry.field(description="Why, when someone said.")
    at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_model(cls, view: StatusChangeView) -> OrderStatusChange:
        """Build the GraphQL step from a history row."""
        return cls(
            from_status=OrderStatus(view.from_status) if view.from_status else None,
            to_status=OrderStatus(view.to_status),
            actor=view.actor_kind,
            note=view.note,
            at=view.at,
        )


@strawberry.type(description="An order: what was bought, for which fulfilment, and its status.")
class Order(Node):
    number: str = strawberry.field(
        description=(
            "The order number people read and type, e.g. `OC-26-000123-4`: year, order, check "
            "digit. Typed with or without dashes it finds the order (orderByNumber)."
        )
    )
    status: OrderStatus = strawberry.field(description="Where the order is now.")
    fulfilment: FulfilmentMethod = strawberry.field(description="Collect in a store or delivery.")
    channel: OrderChannel = strawberry.field(description="Where it was placed.")
    version: int = strawberry.field(description="Counts the order's changes.")
    created_at: datetime = strawberry.field(description="When it was placed.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    pickup_deadline: datetime | None = strawberry.field(
        description="Click and collect: uncollected after this, the order expires."
    )
    delivery_address: str | None = strawberry.field(description="Delivery: where to.")
    view: strawberry.Private[OrderView]

    @classmethod
    def from_model(cls, view: OrderView) -> Order:
        """Build the GraphQL order from a snapshot the orders service returned."""
        return cls(
            id=strawberry.ID(encode_id("Order", view.id)),
            number=view.number,
            status=OrderStatus(view.status),
            fulfilment=FulfilmentMethod(view.fulfilment),
            channel=OrderChannel(view.channel),
            version=view.version,
            created_at=view.created_at,
            updated_at=view.updated_at,
            pickup_deadline=view.pickup_deadline,
            delivery_address=view.delivery_address,
            view=view,
        )

    @strawberry.field(description="The lines, in cart order, as they were at checkout.")
    async def lines(self, info: Info) -> list[OrderLine]:
        lines = await context_of(info).loaders.order_lines.load(self.view.id) or []
        return [OrderLine.from_model(line, self.view.currency) for line in lines]

    @strawberry.field(description="Units ordered, all lines together.")
    async def total_quantity(self, info: Info) -> int:
        lines = await context_of(info).loaders.order_lines.load(self.view.id) or []
        return sum(line.quantity for line in lines)

    @strawberry.field(description="The sum of the line totals at checkout.")
    def subtotal(self) -> Money:
        return _money(self.view.subtotal, self.view.currency)

    @strawberry.field(description="What the order costs (no delivery fee is charged).")
    def total(self) -> Money:
        return _money(self.view.total, self.view.currency)

    @strawberry.field(description="The store it is collected at (click and collect).")
    async def pickup_store(self, info: Info) -> Store | None:
        return await _store(info, self.view.pickup_store_id)

    @strawberry.field(description="The store it was placed in (kiosk or staff); null online.")
    async def store(self, info: Info) -> Store | None:
        return await _store(info, self.view.store_id)

    @strawberry.field(description="Its status changes, oldest first.")
    async def history(self, info: Info) -> list[OrderStatusChange]:
        steps = await context_of(info).loaders.order_history.load(self.view.id) or []
        return [OrderStatusChange.from_model(step) for step in steps]

    @strawberry.field(
        description="Whose order it is: shown to that customer and to staff; null otherwise."
    )
    async def customer(self, info: Info) -> OrderCustomer | None:
        if self.view.customer_id is None:
            return None
        ctx = context_of(info)
        viewer = await ctx.viewer()
        if viewer.customer_id != self.view.customer_id and staff_actor(viewer) is None:
            return None
        row = await ctx.loaders.customer.load(self.view.customer_id)
        return CustomerRef(row) if row else None


async def _store(info: Info, store_id: int | None) -> Store | None:
    if store_id is None:
        return None
    row = await context_of(info).loaders.store.load(store_id)
    return Store.from_model(row) if row else None


@strawberry.type(description="One order in a list.")
class OrderEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this order.")
    node: Order = strawberry.field(description="The order.")


@strawberry.type(description="A page of orders, newest first.")
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="This page's orders.")
    page_info: PageInfo = strawberry.field(description="Paging.")

    @classmethod
    def from_page(cls, page: OrderPage, after: str | None) -> OrderConnection:
        """Build a connection from a page of the orders service."""
        edges = [
            OrderEdge(cursor=encode_cursor(o.id), node=Order.from_model(o)) for o in page.orders
        ]
        return cls(
            edges=edges,
            page_info=PageInfo.of(
                [edge.cursor for edge in edges],
                has_next=page.has_next,
                has_previous=after is not None,
            ),
        )


def encode_cursor(order_id: int) -> str:
    """Return the opaque cursor of an order in a list."""
    return paging.encode_cursor("order", order_id)


def decode_cursor(cursor: str | None) -> int | None:
    """Return the order id a cursor points at (None for none), or raise InvalidInput."""
    return None if cursor is None else paging.decode_cursor("order", cursor)


@strawberry.type(
    name="UnavailableLine", description="A cart line that cannot be had where it was asked for."
)
class UnavailableLineType:
    line_id: strawberry.ID = strawberry.field(description="The cart line's global id.")
    product_id: strawberry.ID = strawberry.field(description="The product's global id.")
    requested: int = strawberry.field(description="Units the line asks for.")
    available: int = strawberry.field(
        description="Units available there now (shared by every line of the product)."
    )

    @classmethod
    def from_model(cls, line: UnavailableLine) -> UnavailableLineType:
        """Build the GraphQL shape of a short line."""
        return cls(
            line_id=strawberry.ID(encode_id("CartLine", line.line_id)),
            product_id=strawberry.ID(encode_id("Product", line.product_id)),
            requested=line.requested,
            available=line.available,
        )
