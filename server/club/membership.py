"""Joining the club, the consents that go with it, and identifying a member by card or phone."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.club.numbers import new_member_number, normalise_member_number
from server.db import decode_json_rows, json_rows
from server.errors import Conflict, InvalidInput, NotFound
from server.models import ClubConsent, Customer, Membership, PointEntry
from server.states import ConsentKind

# Phone numbers are matched on their last digits: +47 912 34 567, 0047 91234567 and
# 91234567 are one number. Fewer digits than this identify nobody.
PHONE_DIGITS = 8
_NUMBER_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Consents:
    """What a member agrees to, each recorded apart; joining needs the club terms."""

    club_terms: bool
    marketing_email: bool = False
    marketing_sms: bool = False

    def by_kind(self) -> dict[ConsentKind, bool]:
        """Return each consent by its kind."""
        return {
            ConsentKind.CLUB_TERMS: self.club_terms,
            ConsentKind.MARKETING_EMAIL: self.marketing_email,
            ConsentKind.MARKETING_SMS: self.marketing_sms,
        }


@dataclass(frozen=True, slots=True)
class MembershipView:
    """A member's card number, points balance and when they joined."""

    customer_id: int
    number: str
    points: int
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentView:
    """One consent: when it was last given and, if so, withdrawn."""

    kind: ConsentKind
    given_at: datetime | None
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        """Return whether the consent holds now."""
        return self.given_at is not None and self.withdrawn_at is None


@dataclass(frozen=True, slots=True)
class KioskMember:
    """All a kiosk shows of a member: first name and points."""

    first_name: str | None
    points: int


async def join_club(
    session: AsyncSession, customer_id: int, consents: Consents, *, now: datetime
) -> MembershipView:
    """Make the customer a member with a new number, recording each consent with its time.

    Joining needs the club terms (``INVALID_INPUT`` on ``consents.clubTerms``); a member
    joining again is a ``CONFLICT``.
    """
    if not consents.club_terms:
        raise InvalidInput("Accept the club terms to join.", field="consents.clubTerms")
    if (await memberships_of(session, [customer_id])).get(customer_id) is not None:
        raise Conflict("You are already a member.", field="consents")
    for _ in range(_NUMBER_ATTEMPTS):
        try:
            async with session.begin_nested():
                session.add(
                    Membership(customer_id=customer_id, number=new_member_number(), joined_at=now)
                )
                await session.flush()
            break
        except IntegrityError:  # the number was taken, or the customer joined meanwhile
            if (await memberships_of(session, [customer_id])).get(customer_id) is not None:
                raise Conflict("You are already a member.", field="consents") from None
    await set_consents(session, customer_id, consents.by_kind(), now=now)
    found = (await memberships_of(session, [customer_id]))[customer_id]
    assert found is not None
    return found


async def set_consents(
    session: AsyncSession, customer_id: int, wanted: dict[ConsentKind, bool], *, now: datetime
) -> list[ConsentView]:
    """Give or withdraw consents; each keeps one row, its times change only when it changes."""
    current = {c.kind: c for c in await consents_of(session, customer_id)}
    for kind, give in wanted.items():
        was = current.get(kind)
        if was is None:
            if give:
                session.add(ClubConsent(customer_id=customer_id, kind=kind, given_at=now))
            continue
        if give and not was.active:
            values = {"given_at": now, "withdrawn_at": None}
        elif not give and was.active:
            values = {"withdrawn_at": now}
        else:
            continue
        await session.execute(
            update(ClubConsent)
            .where(ClubConsent.customer_id == customer_id, ClubConsent.kind == kind)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return await consents_of(session, customer_id)


async def consents_of(session: AsyncSession, customer_id: int) -> list[ConsentView]:
    """Return the customer's consents in a fixed order (terms, email, SMS)."""
    rows = await session.execute(
        select(ClubConsent.kind, ClubConsent.given_at, ClubConsent.withdrawn_at).where(
            ClubConsent.customer_id == customer_id
        )
    )
    order = list(ConsentKind)
    views = [ConsentView(ConsentKind(k), g, w) for k, g, w in rows]
    return sorted(views, key=lambda v: order.index(v.kind))


async def memberships_of(
    session: AsyncSession, customer_ids: Iterable[int]
) -> dict[int, MembershipView | None]:
    """Return each customer's membership with its points balance (None if not a member)."""
    ids = set(customer_ids)
    found: dict[int, MembershipView | None] = dict.fromkeys(ids)
    if not ids:
        return found
    balance = (
        select(func.coalesce(func.sum(PointEntry.points), 0))
        .where(PointEntry.customer_id == Membership.customer_id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Membership.customer_id, Membership.number, balance, Membership.joined_at).where(
            Membership.customer_id.in_(ids)
        )
    )
    for customer_id, number, points, joined_at in rows:
        found[customer_id] = MembershipView(customer_id, number, int(points), joined_at)
    return found


async def is_member(session: AsyncSession, customer_id: int | None) -> bool:
    """Return whether the customer (if any) is a club member."""
    if customer_id is None:
        return False
    found = await session.scalar(
        select(Membership.customer_id).where(Membership.customer_id == customer_id)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class Shopper:
    """What an order needs to know of the customer placing it: club or not, and the language."""

    member: bool = False
    # The customer's preferred language ('nb' or 'en'); None: as the request asks.
    language: str | None = None


# A cart's customer as ``Shopper`` needs them (``carts.customer_id``: the bumped cart's).
_SHOPPER_COLUMNS = "c.language, m.customer_id"
_SHOPPER_FROM = (
    "FROM customers c LEFT JOIN memberships m ON m.customer_id = c.id "
    "WHERE c.id = carts.customer_id"
)


def shopper_returning(session: AsyncSession) -> Any:
    """Return a RETURNING expression of a cart's version bump: its customer as a ``Shopper``.

    A checkout reads the shopper with the bump that locks the cart, no statement of its
    own; ``decode_shopper`` reads the value back (no customer: a guest).
    """
    return json_rows(session, _SHOPPER_COLUMNS, _SHOPPER_FROM)


def decode_shopper(value: Any) -> Shopper:
    """Return the shopper a ``shopper_returning`` expression returned."""
    rows = decode_json_rows(value)
    if not rows:
        return Shopper()
    language, member = rows[0]
    return Shopper(member=member is not None, language=language)


def phone_digits(text: str) -> str:
    """Return the digits of a phone number that identify it (the last ``PHONE_DIGITS``)."""
    return re.sub(r"\D", "", text)[-PHONE_DIGITS:]


async def member_for_code(session: AsyncSession, code: str) -> int:
    """Return the member a scanned card or typed member number or phone number names.

    Raises NotFound when no member (or more than one member, by phone) answers to it.
    """
    text = code.strip()
    if not 1 <= len(text) <= 40:
        raise InvalidInput("Give a member number or a phone number.", field="code")
    number = normalise_member_number(text)
    if number is not None:
        found = await session.scalar(
            select(Membership.customer_id).where(Membership.number == number)
        )
        if found is not None:
            return int(found)
    digits = phone_digits(text)
    if len(digits) == PHONE_DIGITS and not re.search(r"[^\d\s+()\-.]", text):
        matches = await _members_by_phone(session, digits)
        if len(matches) == 1:
            return matches[0]
    raise NotFound("No member has this member number or phone number.", field="code")


async def _members_by_phone(session: AsyncSession, digits: str) -> list[int]:
    compact: Any = Customer.phone
    for ch in " -+().":
        compact = func.replace(compact, ch, "")
    rows = await session.execute(
        select(Customer.id, Customer.phone)
        .join(Membership, Membership.customer_id == Customer.id)
        .where(compact.endswith(digits, autoescape=True))
    )
    return [cid for cid, phone in rows if phone and phone_digits(phone) == digits]


async def kiosk_member(session: AsyncSession, code: str) -> KioskMember:
    """Return what a kiosk may show of the member a code names: first name and points."""
    customer_id = await member_for_code(session, code)
    name = await session.scalar(select(Customer.name).where(Customer.id == customer_id))
    membership = (await memberships_of(session, [customer_id]))[customer_id]
    if membership is None:
        raise NotFound("No member has this member number or phone number.", field="code")
    first = name.split()[0] if name and name.split() else None
    return KioskMember(first, membership.points)
