"""The club's types a ``Customer`` answers: its membership and its purchases.

``Customer.membership`` and ``Customer.purchases`` (``schema.carts.types``) import these
and resolve through ``membership_of`` and ``purchases_of``. A purchase may be an ``Order``,
whose ``customer`` is a ``Customer`` again: ``Order`` names that type lazily and answers a
``schema.customer_ref.CustomerRef``, so no module here imports the cart types back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from schema.catalog import Money, Store
from schema.context import context_of
from schema.orders.types import Order
from schema.paging import PageInfo, decode_cursor, encode_cursor
from server.club import membership, purchases, receipts
from server.models import utcnow
from server.orders import orders_by_ids

DEFAULT_PAGE = 20


@strawberry.type(description="One consent of a member.")
class ClubConsent:
    kind: str = strawberry.field(
        description="What it is for: CLUB_TERMS, MARKETING_EMAIL or MARKETING_SMS."
    )
    given_at: datetime | None = strawberry.field(description="When it was last given.")
    withdrawn_at: datetime | None = strawberry.field(description="When it was withdrawn.")
    active: bool = strawberry.field(description="Whether it holds now.")

    @classmethod
    def from_view(cls, view: membership.ConsentView) -> ClubConsent:
        """Build the GraphQL consent from the service's view."""
        return cls(
            kind=view.kind.name,
            given_at=view.given_at,
            withdrawn_at=view.withdrawn_at,
            active=view.active,
        )


@strawberry.type(description="A club membership: the member card's number and the points.")
class Membership:
    number: str = strawberry.field(
        description="The member number (10 digits, the last a Luhn check digit), on the card."
    )
    points: int = strawberry.field(description="The points balance: the sum of the ledger.")
    joined_at: datetime = strawberry.field(description="When the customer joined.")
    barcode_url: str = strawberry.field(description="The member card as Code 128 (SVG).")
    qr_url: str = strawberry.field(description="The member card as a QR code (SVG).")
    customer_id: strawberry.Private[int]

    @classmethod
    def from_view(cls, view: membership.MembershipView) -> Membership:
        """Build the GraphQL membership from the service's view."""
        return cls(
            number=view.number,
            points=view.points,
            joined_at=view.joined_at,
            barcode_url=f"/members/{view.number}.svg",
            qr_url=f"/members/{view.number}/qr.svg",
            customer_id=view.customer_id,
        )

    @strawberry.field(description="Each consent with when it was given and withdrawn.")
    async def consents(self, info: Info) -> list[ClubConsent]:
        session = await context_of(info).session()
        views = await membership.consents_of(session, self.customer_id)
        return [ClubConsent.from_view(view) for view in views]


@strawberry.type(description="One product of a till receipt.")
class ReceiptLine:
    name: str = strawberry.field(description="The product's name at the sale.")
    quantity: int = strawberry.field(description="Units bought.")
    returned_quantity: int = strawberry.field(description="Units brought back since.")
    unit_price: Money = strawberry.field(description="The price paid per unit.")
    line_total: Money = strawberry.field(description="Unit price times quantity.")


@strawberry.type(description="A till sale recorded for a member.")
class Receipt:
    number: str = strawberry.field(description="The till's receipt number.")
    sold_at: datetime = strawberry.field(description="When the sale was made.")
    total: Money = strawberry.field(description="What the receipt came to.")
    lines: list[ReceiptLine] = strawberry.field(description="What was bought.")
    store_id: strawberry.Private[int | None]

    @classmethod
    def from_view(cls, view: receipts.ReceiptView) -> Receipt:
        """Build the GraphQL receipt from the service's view."""
        c = view.currency
        return cls(
            number=view.number,
            sold_at=view.sold_at,
            total=Money(amount=view.total, currency=c),
            lines=[
                ReceiptLine(
                    name=line.name,
                    quantity=line.quantity,
                    returned_quantity=line.returned_quantity,
                    unit_price=Money(amount=line.unit_price, currency=c),
                    line_total=Money(amount=line.line_total, currency=c),
                )
                for line in view.lines
            ],
            store_id=view.store_id,
        )

    @strawberry.field(description="The store of the till.")
    async def store(self, info: Info) -> Store | None:
        if self.store_id is None:
            return None
        row = await context_of(info).loaders.store.load(self.store_id)
        return Store.from_model(row) if row else None


Purchase = Annotated[
    Order | Receipt,
    strawberry.union("Purchase", description="An order (any channel) or a till receipt."),
]


@strawberry.type(description="One purchase and its cursor.")
class PurchaseEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the purchases after it.")
    node: Purchase = strawberry.field(description="The order or receipt.")


@strawberry.type(description="A page of a customer's purchases, newest first.")
class PurchaseConnection:
    edges: list[PurchaseEdge] = strawberry.field(description="The purchases of this page.")
    page_info: PageInfo = strawberry.field(description="Whether older purchases follow.")


def _cursor_of(ref: purchases.PurchaseRef) -> str:
    # Orders have even numbers, receipts odd: one cursor kind for the merged list.
    return encode_cursor("purchase", ref.id * 2 + (ref.kind == "receipt"))


def _after(cursor: str | None) -> tuple[purchases.PurchaseKind, int] | None:
    if cursor is None:
        return None
    value = decode_cursor("purchase", cursor)
    return ("receipt" if value % 2 else "order", value // 2)


async def membership_of(info: Info[Any, Any], customer_id: int) -> Membership | None:
    """Return the customer's membership (None when not a member); for ``Customer``."""
    session = await context_of(info).session()
    view = (await membership.memberships_of(session, [customer_id]))[customer_id]
    return Membership.from_view(view) if view else None


async def purchases_of(
    info: Info[Any, Any], customer_id: int, first: int | None, after: str | None
) -> PurchaseConnection:
    """Return a page of the customer's orders and receipts, newest first; for ``Customer``."""
    ctx = context_of(info)
    session = await ctx.session()
    page = await purchases.purchases_for(
        session,
        await ctx.viewer(),
        customer_id,
        first=DEFAULT_PAGE if first is None else first,
        after=_after(after),
        now=utcnow(),
    )
    return PurchaseConnection(
        edges=await _edges(session, page.items),
        page_info=PageInfo.of(
            [_cursor_of(ref) for ref in page.items],
            has_next=page.has_next,
            has_previous=after is not None,
        ),
    )


async def _edges(session: Any, refs: Sequence[purchases.PurchaseRef]) -> list[PurchaseEdge]:
    order_views = await orders_by_ids(session, [r.id for r in refs if r.kind == "order"])
    receipt_views = await receipts.receipts_by_ids(
        session, [r.id for r in refs if r.kind == "receipt"]
    )
    edges = []
    for ref in refs:
        node: Order | Receipt = (
            Order.from_model(order_views[ref.id])
            if ref.kind == "order"
            else Receipt.from_view(receipt_views[ref.id])
        )
        edges.append(PurchaseEdge(cursor=_cursor_of(ref), node=node))
    return edges
