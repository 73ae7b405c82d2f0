"""The customer club over GraphQL: joining, the kiosk's view, preferences, and the customer's
own data (export and deletion).

The membership and purchase types a ``Customer`` answers are in ``schema.club_types``.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.carts.types import Customer
from schema.club_types import Membership
from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_in_operation, run_mutation
from schema.writes import COUNTS_ATTEMPTS, WRITES
from server.club import account, membership
from server.club.kiosk import member_at_kiosk
from server.errors import AppError
from server.models import Customer as CustomerRow


@strawberry.type(description="All a kiosk shows of a member: first name and points.")
class KioskMember:
    first_name: str | None = strawberry.field(description="The member's first name.")
    points: int = strawberry.field(description="The points balance.")


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
