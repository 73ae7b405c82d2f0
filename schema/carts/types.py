"""Cart types: the cart, its lines (through the loaders), the quantity scalar, its customer.

``Customer`` lives here beside ``Cart``: ``Cart.customer`` and ``Customer.cart`` each build the
other, and one module keeps that from becoming an import cycle. Its club fields come from
``schema.club_types``, which reaches ``Order``; ``Order.customer`` names ``Customer`` lazily
and answers a ``CustomerRef`` (``schema.customer_ref``), which ``Customer`` accepts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NewType

import strawberry
from strawberry.types import Info

from schema.catalog import Money, Node, Product
from schema.club_types import Membership, PurchaseConnection, membership_of, purchases_of
from schema.context import context_of
from schema.customer_ref import CustomerRef
from schema.ids import encode_id
from schema.orders.fulfilment import LineFulfilment, line_fulfilment
from server import orders, pricing
from server.carts import CartView, LineView, visible_customer
from server.errors import InvalidQuantity
from server.gtin import Gtin
from server.models import Customer as CustomerRow
from server.states import FulfilmentMethod, OrderStatus


def _parse_quantity(value: Any) -> int:
    """Accept any whole number, however large: the range is the mutation's to judge."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidQuantity("A quantity is a whole number of units.", field="quantity")


LineQuantity = NewType("LineQuantity", int)
# Registered in the schema's scalar_map (see schema/build.py).
LINE_QUANTITY_SCALAR = strawberry.scalar(
    name="LineQuantity",
    serialize=int,
    parse_value=_parse_quantity,
    description=(
        "A whole number of units. Any integer is accepted by the schema (no 32-bit limit), "
        "so that a cart mutation can answer INVALID_QUANTITY for 0, negative and too large "
        "numbers."
    ),
)


async def _price(info: Info[Any, Any], product_id: int) -> pricing.PriceInfo:
    ctx = context_of(info)
    return pricing.shown_price(await ctx.loaders.price.load(product_id), ctx.settings.currency)


@strawberry.type(description="A product in a cart and how many of it; prices are as of now.")
class CartLine:
    id: strawberry.ID = strawberry.field(
        description="The line's global id, for cartLinesUpdate and cartLinesRemove."
    )
    quantity: int = strawberry.field(description="Units of the product.")
    view: strawberry.Private[LineView]

    @classmethod
    def from_model(cls, view: LineView) -> CartLine:
        """Build the GraphQL line from the cart snapshot's line."""
        return cls(
            id=strawberry.ID(encode_id("CartLine", view.id)), quantity=view.quantity, view=view
        )

    @strawberry.field(description="The product, with its page as everywhere else.")
    async def product(self, info: Info) -> Product:
        product = await Product.by_id(info, self.view.product_id, active_only=False)
        assert product is not None, "a cart line's product is never deleted"
        return product

    @strawberry.field(description="The price of one unit in force now (a campaign's, if one runs).")
    async def unit_price(self, info: Info) -> Money:
        price = await _price(info, self.view.product_id)
        return Money(amount=price.current, currency=price.currency)

    @strawberry.field(description="Unit price now times quantity.")
    async def line_total(self, info: Info) -> Money:
        price = await _price(info, self.view.product_id)
        return Money(amount=pricing.line_total(price, self.quantity), currency=price.currency)

    @strawberry.field(
        description=(
            "For a kiosk or staff tablet: is this line on the shelf in the given store, or "
            "how can it be ordered (collect here, at another store, delivery)?"
        )
    )
    async def fulfilment_options(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, strawberry.argument(description="The store.")],
    ) -> LineFulfilment:
        return await line_fulfilment(info, self.view, store_id)


@strawberry.type(description="A line that left this cart in an order while the cart stayed open.")
class CartOrderedLine:
    order_id: strawberry.ID = strawberry.field(description="The order it is in.")
    order_number: str = strawberry.field(description="The order's number (`OC-26-000123-4`).")
    order_status: OrderStatus = strawberry.field(description="Where the order is now.")
    fulfilment: FulfilmentMethod = strawberry.field(description="Collect in a store or delivery.")
    ordered_at: datetime = strawberry.field(description="When it was ordered.")
    gtin: str = strawberry.field(description="The product's barcode, as printed.")
    name: str = strawberry.field(description="The product's name at checkout.")
    quantity: int = strawberry.field(description="Units ordered.")

    @classmethod
    def from_model(cls, line: orders.OrderedLine) -> CartOrderedLine:
        """Build the GraphQL line from the orders service's view of it."""
        return cls(
            order_id=strawberry.ID(encode_id("Order", line.order_id)),
            order_number=line.order_number,
            order_status=line.status,
            fulfilment=line.fulfilment,
            ordered_at=line.ordered_at,
            gtin=str(Gtin(line.gtin)) if len(line.gtin) == 14 else line.gtin,
            name=line.name,
            quantity=line.quantity,
        )


@strawberry.type(
    description="A shopping cart, the same on every device; the server's copy is the truth."
)
class Cart(Node):
    version: int = strawberry.field(description="Counts the cart's changes: each adds exactly one.")
    total_quantity: int = strawberry.field(description="Units in the cart, all lines together.")
    updated_at: datetime = strawberry.field(description="When the cart last changed.")
    view: strawberry.Private[CartView]
    live_updates: bool | None = strawberry.field(
        default=None,
        description=(
            "In a `cartUpdated` message: true while later changes follow live, false while "
            "they are paused (the event broker cannot be reached; the cart is sent again, "
            "with true, once they resume). Null everywhere else."
        ),
    )

    @classmethod
    def from_model(cls, view: CartView) -> Cart:
        """Build the GraphQL cart from a snapshot the carts service returned."""
        return cls(
            id=strawberry.ID(encode_id("Cart", view.id)),
            version=view.version,
            total_quantity=view.total_quantity,
            updated_at=view.updated_at,
            view=view,
        )

    @strawberry.field(description="The lines, in the order their products were first added.")
    def lines(self) -> list[CartLine]:
        return [CartLine.from_model(line) for line in self.view.lines]

    @strawberry.field(
        description=(
            "Lines ordered from this cart while it stayed open (a kiosk ordering what its "
            "shelf lacks): they left `lines`, and each names its order. Oldest order first."
        )
    )
    async def ordered_lines(self, info: Info) -> list[CartOrderedLine]:
        session = await context_of(info).session()
        return [
            CartOrderedLine.from_model(line)
            for line in await orders.ordered_from_cart(session, self.view.id)
        ]

    @strawberry.field(description="The sum of the line totals at the prices in force now.")
    async def subtotal(self, info: Info) -> Money:
        ctx = context_of(info)
        ids = [line.product_id for line in self.view.lines]
        prices = dict(zip(ids, await ctx.loaders.price.load_many(ids), strict=True))
        currency = ctx.settings.currency
        amount = pricing.cart_subtotal(self.view.lines, prices, currency)
        return Money(amount=amount, currency=currency)

    @strawberry.field(
        description=(
            "Whose cart it is: shown to that customer and to a device the cart was handed to; "
            "null for a guest cart and for everyone else."
        )
    )
    async def customer(self, info: Info) -> Customer | None:
        ctx = context_of(info)
        customer_id = visible_customer(await ctx.viewer(), self.view)
        if customer_id is None:
            return None
        row = await ctx.loaders.customer.load(customer_id)
        return Customer.from_model(row, with_cart=False) if row else None


@strawberry.type(description="A shopper with an account.")
class Customer(Node):
    email: str = strawberry.field(description="The email address signed in with (lower case).")
    name: str | None = strawberry.field(description="The name the customer gave.")
    phone: str | None = strawberry.field(description="The phone number the customer gave.")
    row: strawberry.Private[CustomerRow]
    with_cart: strawberry.Private[bool]

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        """Accept a ``CustomerRef`` too: ``Order.customer`` answers one (see its module)."""
        return isinstance(obj, cls | CustomerRef)

    @classmethod
    def from_model(cls, row: CustomerRow, *, with_cart: bool) -> Customer:
        """Build the GraphQL customer; ``with_cart`` only where the customer is the one asking."""
        return cls(
            id=strawberry.ID(encode_id("Customer", row.id)),
            email=row.email,
            name=row.name,
            phone=row.phone,
            row=row,
            with_cart=with_cart,
        )

    @strawberry.field(description="The customer's one active cart; null before the first one.")
    async def cart(self, info: Info) -> Cart | None:
        if not self.with_cart:
            return None
        view = await context_of(info).loaders.customer_cart.load(self.row.id)
        return Cart.from_model(view) if view else None

    @strawberry.field(description="The club membership; null when not a member.")
    async def membership(self, info: Info) -> Membership | None:
        return await membership_of(info, self.row.id)

    @strawberry.field(
        description=(
            "Orders (every channel) and till receipts, newest first: to the customer and "
            "to staff (audited)."
        )
    )
    async def purchases(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="At most this many (1 to 100; 20).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="The cursor to continue after.")
        ] = None,
    ) -> PurchaseConnection:
        return await purchases_of(info, self.row.id, first, after)
