"""Staff tablets over GraphQL: sign in, look customers up, and the admins' audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema import paging
from schema.carts.types import Cart, Customer
from schema.catalog import Node, Product, Store
from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id, encode_id
from schema.mutations import Call, run_in_operation, run_mutation
from schema.orders.queries import AFTER, FIRST
from schema.orders.types import OrderConnection, decode_cursor
from schema.paging import PageInfo
from schema.writes import COUNTS_ATTEMPTS, WRITES
from server import staff as staff_service
from server.errors import AppError, InvalidInput
from server.models import Customer as CustomerRow
from server.staff import AuditView, StaffRecord

_SUBJECT_TYPES = {"order": "Order", "customer": "Customer"}


@strawberry.enum(description="What a staff account may do.")
class StaffRole(Enum):
    STAFF = "staff"
    ADMIN = "admin"


@strawberry.type(description="A staff account: works in one store, or (admin) for all.")
class StaffUser(Node):
    email: str = strawberry.field(description="Email address signed in with.")
    name: str = strawberry.field(description="The person's name.")
    role: StaffRole = strawberry.field(description="staff (one store) or admin (every store).")
    record: strawberry.Private[StaffRecord]

    @classmethod
    def from_model(cls, record: StaffRecord) -> StaffUser:
        """Build the GraphQL staff user from the staff service's record."""
        return cls(
            id=strawberry.ID(encode_id("StaffUser", record.id)),
            email=record.email,
            name=record.name,
            role=StaffRole(record.role),
            record=record,
        )

    @strawberry.field(description="The store they work in; null for admins.")
    async def store(self, info: Info) -> Store | None:
        if self.record.store_id is None:
            return None
        row = await context_of(info).loaders.store.load(self.record.store_id)
        return Store.from_model(row) if row else None


@strawberry.input(description="A staff member's credentials.")
class StaffSignInInput:
    email: str = strawberry.field(description="Email address; case does not matter.")
    password: str = strawberry.field(description="The password.")


@strawberry.type(description="A new staff session, or why there is none.")
class StaffSessionPayload:
    token: str | None = strawberry.field(
        description="Send as `Authorization: Bearer <token>` from the tablet; shown once."
    )
    expires_at: datetime | None = strawberry.field(description="When the session ends.")
    staff: StaffUser | None = strawberry.field(description="Who signed in.")
    errors: list[UserError] = strawberry.field(description="Why signing in failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> StaffSessionPayload:
        """Build the payload of a refused staff sign-in."""
        return cls(token=None, expires_at=None, staff=None, errors=[UserError.from_error(error)])

    @classmethod
    def of(cls, signed_in: staff_service.StaffSignedIn) -> StaffSessionPayload:
        """Build the payload of a new staff session."""
        return cls(
            token=signed_in.token,
            expires_at=signed_in.expires_at,
            staff=StaffUser.from_model(signed_in.staff),
            errors=[],
        )


@strawberry.type(description="The result of a staff sign-out.")
class StaffSignOutPayload:
    ended_sessions: int = strawberry.field(description="How many sessions ended (0 or 1).")
    errors: list[UserError] = strawberry.field(description="Why it failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> StaffSignOutPayload:
        """Build the payload of a refused staff sign-out."""
        return cls(ended_sessions=0, errors=[UserError.from_error(error)])

    @classmethod
    def of(cls, ended: int) -> StaffSignOutPayload:
        """Build the payload of a sign-out that ended ``ended`` sessions."""
        return cls(ended_sessions=ended, errors=[])


@strawberry.type(description="A product a customer bought, over all their orders.")
class PurchasedProduct:
    name: str = strawberry.field(description="The product's name on the latest order.")
    gtin: str = strawberry.field(description="Its barcode on the order, canonical 14 digits.")
    units: int = strawberry.field(description="Units bought, returns taken off.")
    orders: int = strawberry.field(description="Orders it was on.")
    last_bought_at: datetime = strawberry.field(description="When it was last ordered.")
    product_id: strawberry.Private[int]

    @strawberry.field(description="The product's page as it is now.")
    async def product(self, info: Info) -> Product | None:
        row = await context_of(info).loaders.product.load(self.product_id)
        return await Product.load(info, row) if row else None


@strawberry.type(description="What staff see of a customer: details, open cart, orders, purchases.")
class CustomerRecord:
    customer: Customer = strawberry.field(description="The customer's details.")
    row: strawberry.Private[CustomerRow]

    @strawberry.field(description="The customer's open cart, as every device of theirs shows it.")
    async def cart(self, info: Info) -> Cart | None:
        view = await context_of(info).loaders.customer_cart.load(self.row.id)
        return Cart.from_model(view) if view else None

    @strawberry.field(description="The customer's orders, newest first.")
    async def orders(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> OrderConnection:
        key = (self.row.id, decode_cursor(after), first)
        page = await context_of(info).loaders.customer_orders.load(key)
        assert page is not None, "every customer asked for gets a page"
        return OrderConnection.from_page(page, after)

    @strawberry.field(
        description="What they bought (collected, shipped or delivered), latest first."
    )
    async def purchase_history(self, info: Info) -> list[PurchasedProduct]:
        bought = await context_of(info).loaders.purchases.load(self.row.id) or []
        return [
            PurchasedProduct(
                name=p.name,
                gtin=p.gtin,
                units=p.units,
                orders=p.orders,
                last_bought_at=p.last_bought_at,
                product_id=p.product_id,
            )
            for p in bought
        ]


def _record(row: CustomerRow) -> CustomerRecord:
    return CustomerRecord(customer=Customer.from_model(row, with_cart=False), row=row)


@strawberry.type(description="One recorded staff action.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry's global id.")
    at: datetime = strawberry.field(description="When.")
    action: str = strawberry.field(
        description="What, e.g. order.mark_ready, order.return, customer.search."
    )
    subject_id: strawberry.ID | None = strawberry.field(
        description="The global id of what it was done to (an Order, a Customer)."
    )
    details: JSON = strawberry.field(description="Particulars: order number, statuses, query …")
    device_id: strawberry.ID | None = strawberry.field(
        description="Set when a staff device (not a person) acted: the device's global id."
    )
    view: strawberry.Private[AuditView]

    @classmethod
    def from_model(cls, view: AuditView) -> AuditEntry:
        """Build the GraphQL entry from an audit row."""
        kind = _SUBJECT_TYPES.get(view.subject_type)
        subject = (
            strawberry.ID(encode_id(kind, view.subject_id))
            if kind and view.subject_id is not None
            else None
        )
        return cls(
            id=strawberry.ID(encode_id("AuditEntry", view.id)),
            at=view.at,
            action=view.action,
            subject_id=subject,
            details=JSON(view.details),
            device_id=strawberry.ID(encode_id("Device", view.device_id))
            if view.device_id is not None
            else None,
            view=view,
        )

    @strawberry.field(description="The staff member who acted; null when a device did.")
    async def staff(self, info: Info) -> StaffUser | None:
        if self.view.staff_user_id is None:
            return None
        record = await context_of(info).loaders.staff_user.load(self.view.staff_user_id)
        return StaffUser.from_model(record) if record else None

    @strawberry.field(description="The store it happened for.")
    async def store(self, info: Info) -> Store | None:
        if self.view.store_id is None:
            return None
        row = await context_of(info).loaders.store.load(self.view.store_id)
        return Store.from_model(row) if row else None


@strawberry.type(description="A page of audit entries, newest first.")
class AuditConnection:
    entries: list[AuditEntry] = strawberry.field(description="This page's entries.")
    page_info: PageInfo = strawberry.field(description="Paging.")


@strawberry.type(description="A registered device of a store, as it signs in with its token.")
class ThisDevice:
    kind: str = strawberry.field(description="`kiosk`, `staff`, `pos` or `warehouse`.")
    name: str = strawberry.field(description="The name it was registered with.")
    store: Store = strawberry.field(description="The store it belongs to.")


@strawberry.type
class StaffQuery:
    @strawberry.field(
        description=(
            "The device whose token signs this request in (`Authorization: Bearer dv_…`): a "
            "kiosk or staff tablet checks its token and learns its store with it. Null for "
            "anyone else, an unknown or revoked token included."
        )
    )
    async def this_device(self, info: Info) -> ThisDevice | None:
        ctx = context_of(info)
        device = (await ctx.viewer()).device
        if device is None:
            return None
        row = await ctx.loaders.store.load(device.store_id)
        if row is None:
            return None
        return ThisDevice(kind=str(device.kind), name=device.name, store=Store.from_model(row))

    @strawberry.field(description="The signed-in staff member; null for everyone else.")
    async def staff_me(self, info: Info) -> StaffUser | None:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        if viewer.staff is None:
            return None
        record = await ctx.loaders.staff_user.load(viewer.staff.id)
        return StaffUser.from_model(record) if record else None

    @strawberry.field(
        description=(
            "Staff (signed in as a person): customers whose name, email or phone matches. "
            "Every lookup is recorded in the audit trail."
        ),
        metadata=WRITES,
    )
    async def customer_search(
        self,
        info: Info,
        query: Annotated[
            str, strawberry.argument(description="2 to 100 characters of a name, email or phone.")
        ],
        first: Annotated[int, strawberry.argument(description="How many (1 to 50).")] = 20,
    ) -> list[CustomerRecord]:
        # The lookup and its audit row commit together, in the operation's transaction.
        rows = await run_in_operation(
            info,
            lambda call: staff_service.search_customers(
                call.session, call.viewer, query, limit=first, now=call.now
            ),
        )
        return [_record(row) for row in rows]

    @strawberry.field(
        description="Staff (signed in as a person): one customer, recorded in the audit trail.",
        metadata=WRITES,
    )
    async def staff_customer(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The customer's global id.")],
    ) -> CustomerRecord | None:
        pk = decode_id(id, "Customer")
        row = await run_in_operation(
            info,
            lambda call: staff_service.customer_for_staff(
                call.session, call.viewer, pk, now=call.now
            ),
        )
        return _record(row) if row else None

    @strawberry.field(description="Admins: staff actions, newest first.")
    async def staff_audit(
        self,
        info: Info,
        staff_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this staff member's.")
        ] = None,
        action: Annotated[
            str | None, strawberry.argument(description="Only this action, e.g. order.return.")
        ] = None,
        since: Annotated[
            datetime | None, strawberry.argument(description="From this moment on.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="How many (1 to 100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AuditConnection:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        staff_service.require_staff(viewer, person=True, admin=True)
        if not 1 <= first <= 100:
            raise InvalidInput("Ask for 1 to 100 entries at a time.", field="first")
        session = await ctx.session()
        views, more = await staff_service.list_actions(
            session,
            staff_user_id=decode_id(staff_id, "StaffUser", field="staffId") if staff_id else None,
            action=action,
            since=since,
            before_id=paging.decode_cursor("audit", after) if after is not None else None,
            limit=first,
        )
        return AuditConnection(
            entries=[AuditEntry.from_model(v) for v in views],
            page_info=PageInfo.of(
                [paging.encode_cursor("audit", v.id) for v in views],
                has_next=more,
                has_previous=after is not None,
            ),
        )


@strawberry.type
class StaffMutation:
    @strawberry.mutation(
        description="Sign a staff member in on a tablet with email and password.",
        metadata=COUNTS_ATTEMPTS,
    )
    async def staff_sign_in(
        self,
        info: Info,
        input: Annotated[StaffSignInInput, strawberry.argument(description="Credentials.")],
    ) -> StaffSessionPayload:
        ctx = context_of(info)

        async def sign_in(call: Call) -> staff_service.StaffSignedIn:
            # A wrong password counted by ``attempts`` stays counted through the savepoint's
            # rollback (see schema.mutations).
            return await staff_service.sign_in(
                call.session,
                email=input.email,
                password=input.password,
                client_address=ctx.client_address,
                attempts=await call.attempts(),
                settings=call.settings,
                now=call.now,
            )

        return await run_mutation(info, StaffSessionPayload, sign_in, StaffSessionPayload.of)

    @strawberry.mutation(description="End this staff session.")
    async def staff_sign_out(self, info: Info) -> StaffSignOutPayload:
        return await run_mutation(
            info,
            StaffSignOutPayload,
            lambda call: staff_service.sign_out(call.session, call.viewer),
            StaffSignOutPayload.of,
        )
