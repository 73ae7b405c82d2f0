"""The customer club over GraphQL: membership, consents, the kiosk's view, purchase history,
preferences, and the customer's own data (export and deletion).

``Customer.membership`` and ``Customer.purchases`` (in ``schema.carts.types``) name these
types lazily and resolve through ``membership_of`` and ``purchases_of`` here, because these
types reach ``Order``, which reaches ``Customer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.carts.types import Customer
from schema.catalog import Money, Store
from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_in_operation, run_mutation
from schema.orders.types import Order
from schema.paging import PageInfo, decode_cursor, encode_cursor
from schema.writes import COUNTS_ATTEMPTS, WRITES
from server.club import account, membership, purchases, receipts
from server.club.kiosk import member_at_kiosk
from server.errors import AppError
from server.models import Customer as CustomerRow
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


@strawberry.type(description="All a kiosk shows of a member: first name and points.")
class KioskMember:
    first_name: str | None = strawberry.field(description="The member's first name.")
    points: int = strawberry.field(description="The points balance.")


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


@strawberry.input(description="What a member agrees to; each is recorded with its time.")
class ClubConsentsInput:
    club_terms: bool = strawberry.field(description="The club terms; joining needs them.")
    marketing_email: bool | None = strawberry.field(default=False, description="Offers by email.")
    marketing_sms: bool | None = strawberry.field(default=False, description="Offers by SMS.")

    def to_consents(self) -> membership.Consents:
        """Return the service's consents."""
        return membership.Consents(
            club_terms=self.club_terms,
            marketing_email=bool(self.marketing_email),
            marketing_sms=bool(self.marketing_sms),
        )


@strawberry.input(description="Joining the club.")
class ClubJoinInput:
    consents: ClubConsentsInput = strawberry.field(description="What the member agrees to.")


@strawberry.type(description="The new membership, or why there is none.")
class ClubJoinPayload:
    membership: Membership | None = strawberry.field(description="The membership.")
    errors: list[UserError] = strawberry.field(description="Why joining failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> ClubJoinPayload:
        """Build the payload of a refused join."""
        return cls(membership=None, errors=[UserError.from_error(error)])


@strawberry.input(description="The signed-in customer's preferences; both are set as given.")
class CustomerPreferencesUpdateInput:
    language: str | None = strawberry.field(default=None, description="nb, en or null.")
    favourite_store_id: strawberry.ID | None = strawberry.field(
        default=None, description="The store shown first, or null."
    )


@strawberry.type(description="The customer after the change, or why it failed.")
class CustomerPayload:
    customer: Customer | None = strawberry.field(description="The signed-in customer.")
    errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> CustomerPayload:
        """Build the payload of a refused change."""
        return cls(customer=None, errors=[UserError.from_error(error)])

    @classmethod
    def of(cls, row: CustomerRow) -> CustomerPayload:
        """Build the payload of the changed customer."""
        return cls(customer=Customer.from_model(row, with_cart=True), errors=[])


@strawberry.input(description="Deleting the signed-in customer's account.")
class CustomerDeleteInput:
    email: str = strawberry.field(description="The account's email, typed again to confirm.")


@strawberry.type(description="The result of deleting an account.")
class CustomerDeletePayload:
    deleted: bool = strawberry.field(description="Whether the account is gone.")
    orders_kept: int = strawberry.field(
        description="Orders kept for the accounts, every personal field erased."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> CustomerDeletePayload:
        """Build the payload of a refused deletion."""
        return cls(deleted=False, orders_kept=0, errors=[UserError.from_error(error)])

    @classmethod
    def of(cls, kept: int) -> CustomerDeletePayload:
        """Build the payload of a deletion that kept ``kept`` orders."""
        return cls(deleted=True, orders_kept=kept, errors=[])


def _store_pk(store_id: strawberry.ID | None) -> int | None:
    return decode_id(store_id, "Store", field="favouriteStoreId") if store_id else None


async def _join(call: Call, consents: ClubConsentsInput) -> Membership:
    customer_id = account.own_customer(call.viewer)
    view = await membership.join_club(
        call.session, customer_id, consents.to_consents(), now=call.now
    )
    return Membership.from_view(view)


@strawberry.type
class ClubQuery:
    @strawberry.field(
        description=(
            "For a kiosk or staff: the first name and points of the member a scanned card, "
            "member number or phone number names. Guesses are rate-limited."
        ),
        metadata={**WRITES, **COUNTS_ATTEMPTS},
    )
    async def member_at_kiosk(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="Card, member or phone number.")],
    ) -> KioskMember:
        ctx = context_of(info)

        async def look_up(call: Call) -> KioskMember:
            found = await member_at_kiosk(
                call.session,
                call.viewer,
                code,
                client_address=ctx.client_address,
                attempts=await call.attempts(),
                now=call.now,
            )
            return KioskMember(first_name=found.first_name, points=found.points)

        return await run_in_operation(info, look_up)

    @strawberry.field(description="Everything kept about the signed-in customer, as JSON.")
    async def customer_data_export(self, info: Info) -> JSON:
        ctx = context_of(info)
        return JSON(await account.export_data(await ctx.session(), await ctx.viewer()))


@strawberry.type
class ClubMutation:
    @strawberry.mutation(description="Join the club (the club terms are needed).")
    async def club_join(self, info: Info, input: ClubJoinInput) -> ClubJoinPayload:
        return await run_mutation(
            info,
            ClubJoinPayload,
            lambda call: _join(call, input.consents),
            lambda found: ClubJoinPayload(membership=found, errors=[]),
        )

    @strawberry.mutation(description="Set the signed-in customer's language and favourite store.")
    async def customer_preferences_update(
        self, info: Info, input: CustomerPreferencesUpdateInput
    ) -> CustomerPayload:
        return await run_mutation(
            info,
            CustomerPayload,
            lambda call: account.update_preferences(
                call.session,
                call.viewer,
                language=input.language,
                favourite_store_id=_store_pk(input.favourite_store_id),
            ),
            CustomerPayload.of,
        )

    @strawberry.mutation(
        description="Delete the signed-in customer; orders stay with personal fields erased."
    )
    async def customer_delete(
        self, info: Info, input: CustomerDeleteInput
    ) -> CustomerDeletePayload:
        return await run_mutation(
            info,
            CustomerDeletePayload,
            lambda call: account.delete_account(
                call.session, call.viewer, confirm_email=input.email, now=call.now
            ),
            CustomerDeletePayload.of,
        )
