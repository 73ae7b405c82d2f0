"""Customer accounts over GraphQL: sign up, sign in (merging the guest cart), sign out, ``me``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.carts.mutations import announce
from schema.carts.types import Cart, Customer
from schema.club import ClubConsentsInput
from schema.context import Context, context_of
from schema.errors import UserError
from schema.ids import decode_id
from schema.mutations import Call, run_mutation
from schema.writes import COUNTS_ATTEMPTS
from server import accounts
from server.club.membership import Consents
from server.errors import AppError


@strawberry.input(description="A new account, optionally taking over the guest cart.")
class CustomerSignUpInput:
    email: str = strawberry.field(description="Email address; case does not matter.")
    password: str = strawberry.field(description="8 to 256 characters.")
    name: str | None = strawberry.field(default=None, description="Name to show.")
    phone: str | None = strawberry.field(default=None, description="Phone number for orders.")
    cart_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The guest cart to keep; send its X-Cart-Token to prove you hold it.",
    )
    join_club: bool | None = strawberry.field(
        default=False, description="Join the club at once (give `consents` with the terms)."
    )
    consents: ClubConsentsInput | None = strawberry.field(
        default=None, description="The club consents, when joining; the terms are needed."
    )

    def club(self) -> Consents | None:
        """Return the consents to join with, or None when not joining."""
        if not self.join_club:
            return None
        return self.consents.to_consents() if self.consents else Consents(club_terms=False)


@strawberry.input(description="Credentials, optionally with the guest cart to merge.")
class CustomerSignInInput:
    email: str = strawberry.field(description="Email address; case does not matter.")
    password: str = strawberry.field(description="The password.")
    cart_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The guest cart to merge into the customer's cart; send its X-Cart-Token to prove "
            "you hold it. Afterwards the cart token no longer works."
        ),
    )


@strawberry.input(description="Which sessions to end.")
class CustomerSignOutInput:
    everywhere: bool = strawberry.field(
        default=False, description="End every session of the customer, not only this one."
    )


@strawberry.type(description="A new session, or why there is none.")
class CustomerSessionPayload:
    token: str | None = strawberry.field(
        description="Send as `Authorization: Bearer <token>`; shown once."
    )
    expires_at: datetime | None = strawberry.field(description="When the session ends.")
    customer: Customer | None = strawberry.field(description="The signed-in customer.")
    cart: Cart | None = strawberry.field(
        description="The customer's cart, with the guest cart's lines merged in."
    )
    errors: list[UserError] = strawberry.field(description="Why signing in failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> CustomerSessionPayload:
        """Build the payload of a refused sign-up or sign-in."""
        return cls(
            token=None,
            expires_at=None,
            customer=None,
            cart=None,
            errors=[UserError.from_error(error)],
        )

    @classmethod
    def signed_in(cls, result: accounts.SignedIn) -> CustomerSessionPayload:
        """Build the payload of a new session."""
        return cls(
            token=result.token,
            expires_at=result.expires_at,
            customer=Customer.from_model(result.customer, with_cart=True),
            cart=Cart.from_model(result.cart) if result.cart else None,
            errors=[],
        )


@strawberry.type(description="The result of signing out.")
class CustomerSignOutPayload:
    ended_sessions: int = strawberry.field(description="How many sessions ended.")
    errors: list[UserError] = strawberry.field(description="Why signing out failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> CustomerSignOutPayload:
        """Build the payload of a refused sign-out."""
        return cls(ended_sessions=0, errors=[UserError.from_error(error)])

    @classmethod
    def of(cls, ended: int) -> CustomerSignOutPayload:
        """Build the payload of a sign-out that ended ``ended`` sessions."""
        return cls(ended_sessions=ended, errors=[])


def _cart_pk(cart_id: strawberry.ID | None) -> int | None:
    return decode_id(cart_id, "Cart", field="cartId") if cart_id is not None else None


def _signed_in(ctx: Context, result: accounts.SignedIn) -> CustomerSessionPayload:
    announce(ctx, *result.changed)
    return CustomerSessionPayload.signed_in(result)


@strawberry.type
class AccountQuery:
    @strawberry.field(
        description="The signed-in customer; null for guests, devices and expired sessions."
    )
    async def me(self, info: Info) -> Customer | None:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        if viewer.customer_id is None:
            return None
        row = await ctx.loaders.customer.load(viewer.customer_id)
        return Customer.from_model(row, with_cart=True) if row else None


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account and sign in; keeps the guest cart given.")
    async def customer_sign_up(
        self, info: Info, input: CustomerSignUpInput
    ) -> CustomerSessionPayload:
        ctx = context_of(info)
        return await run_mutation(
            info,
            CustomerSessionPayload,
            lambda call: accounts.sign_up(
                call.session,
                call.viewer,
                email=input.email,
                password=input.password,
                name=input.name,
                phone=input.phone,
                guest_cart_id=_cart_pk(input.cart_id),
                settings=call.settings,
                now=call.now,
                club=input.club(),
            ),
            lambda result: _signed_in(ctx, result),
        )

    @strawberry.mutation(
        description="Sign in with email and password; merges the given guest cart into yours.",
        metadata=COUNTS_ATTEMPTS,
    )
    async def customer_sign_in(
        self, info: Info, input: CustomerSignInInput
    ) -> CustomerSessionPayload:
        ctx = context_of(info)

        async def sign_in(call: Call) -> accounts.SignedIn:
            # A wrong password counted by ``attempts`` stays counted through the savepoint's
            # rollback (see schema.mutations).
            return await accounts.sign_in(
                call.session,
                call.viewer,
                email=input.email,
                password=input.password,
                guest_cart_id=_cart_pk(input.cart_id),
                client_address=ctx.client_address,
                attempts=await call.attempts(),
                settings=call.settings,
                now=call.now,
            )

        return await run_mutation(
            info, CustomerSessionPayload, sign_in, lambda result: _signed_in(ctx, result)
        )

    @strawberry.mutation(description="End this session (or all of the customer's sessions).")
    async def customer_sign_out(
        self,
        info: Info,
        input: Annotated[
            CustomerSignOutInput | None, strawberry.argument(description="Which sessions to end.")
        ] = None,
    ) -> CustomerSignOutPayload:
        everywhere = input.everywhere if input else False
        return await run_mutation(
            info,
            CustomerSignOutPayload,
            lambda call: accounts.sign_out(call.session, call.viewer, everywhere=everywhere),
            CustomerSignOutPayload.of,
        )
