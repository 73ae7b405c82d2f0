"""Accounts: customers and their sessions, store devices, and resolving who is asking.

Customers sign up and in with email and password. Emails are trimmed and lower-cased, so
one address is one account. Passwords (8 to 256 characters) are hashed with Argon2id
(argon2-cffi's ``PasswordHasher`` defaults), verified in a worker thread, and rehashed on
sign-in when the parameters change (``server.signin``, shared with staff). A failed sign-in
answers the same ``UNAUTHORIZED`` ("the email or password is wrong") and takes the same
time whether or not the email exists, and counts against the email and the client address
like handoff codes do (admitted before the password is checked, in a count that survives a
rollback of the operation).
Signing up with an email that has an account is a ``CONFLICT``: an address can only be
registered once, and telling the person so is the only useful answer there.

A sign-in gives an opaque session token (``cs_…``, stored as SHA-256) valid for
``customer_session_days``; ``customerSignOut`` ends it (or every session of the customer).
Kiosks and staff tablets are devices of one store, added on the command line, with a
``dv_…`` token printed once. ``resolve_viewer`` maps credentials to a ``Viewer``; a token
that is unknown, expired or revoked resolves to nobody rather than failing, so a request
still reaches what its other credential (a cart token) allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.carts import CartView, active_cart_of, attach_guest_cart
from server.club.membership import Consents, join_club
from server.config import Settings
from server.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from server.models import Customer, CustomerSession, Device, Store
from server.ratelimit import AttemptCounter
from server.signin import (
    check_password_rules,
    normalise_email,
    password_hashing,
    rehash_if_outdated,
    start_session,
    start_sign_in,
)
from server.staff.accounts import staff_identity
from server.tokens import (
    CUSTOMER_SESSION_PREFIX,
    DEVICE_PREFIX,
    MAX_TOKEN_LENGTH,
    STAFF_SESSION_PREFIX,
    new_token,
    token_hash,
)
from server.viewer import DeviceIdentity, DeviceKind, Viewer


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session and the customer's cart after any guest cart was attached."""

    token: str
    expires_at: datetime
    customer: Customer
    cart: CartView | None
    # Carts whose version moved (the guest cart and the customer's), to announce.
    changed: tuple[CartView, ...]


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A registered device as the command line lists it."""

    id: int
    store_code: str
    kind: DeviceKind
    name: str
    created_at: datetime
    revoked_at: datetime | None


def guest_viewer(bearer: str | None, cart_token: str | None) -> Viewer | None:
    """Return the viewer of credentials that name no account (no bearer token), else None.

    Such a viewer reaches at most a guest cart, and finding it reads nothing: a guest's
    request opens no session for it (``resolve_viewer`` answers the same).
    """
    if bearer is None or not _plausible(bearer):
        return Viewer(cart_token_hash=token_hash(cart_token) if _plausible(cart_token) else None)
    return None


async def resolve_viewer(
    session: AsyncSession, *, bearer: str | None, cart_token: str | None, now: datetime
) -> Viewer:
    """Return who the credentials stand for; unknown or expired tokens stand for nobody."""
    guest = guest_viewer(bearer, cart_token)
    if guest is not None:
        return guest
    cart_hash = token_hash(cart_token) if _plausible(cart_token) else None
    assert bearer is not None
    if bearer.startswith(CUSTOMER_SESSION_PREFIX):
        row = (
            await session.execute(
                select(CustomerSession.id, CustomerSession.customer_id).where(
                    CustomerSession.token_hash == token_hash(bearer),
                    CustomerSession.expires_at > now,
                )
            )
        ).one_or_none()
        if row is not None:
            return Viewer(customer_id=row.customer_id, session_id=row.id, cart_token_hash=cart_hash)
    elif bearer.startswith(DEVICE_PREFIX):
        device = (
            await session.execute(
                select(Device).where(
                    Device.token_hash == token_hash(bearer), Device.revoked_at.is_(None)
                )
            )
        ).scalar_one_or_none()
        if device is not None:
            identity = DeviceIdentity(device.id, device.store_id, device.kind, device.name)  # type: ignore[arg-type]
            return Viewer(device=identity, cart_token_hash=cart_hash)
    elif bearer.startswith(STAFF_SESSION_PREFIX):
        staff = await staff_identity(session, bearer, now)
        if staff is not None:
            return Viewer(staff=staff, cart_token_hash=cart_hash)
    return Viewer(cart_token_hash=cart_hash)


async def sign_up(
    session: AsyncSession,
    viewer: Viewer,
    *,
    email: str,
    password: str,
    name: str | None,
    phone: str | None,
    guest_cart_id: int | None,
    settings: Settings,
    now: datetime,
    club: Consents | None = None,
) -> SignedIn:
    """Create a customer, sign them in, and make the guest cart they hold (if any) theirs.

    With ``club`` the customer joins the club at once, with those consents.
    """
    address = normalise_email(email)
    check_password_rules(password)
    if name is not None and len(name) > 200:
        raise InvalidInput("A name has at most 200 characters.", field="name")
    if phone is not None and len(phone) > 40:
        raise InvalidInput("A phone number has at most 40 characters.", field="phone")
    taken = Conflict("An account with this email exists; sign in instead.", field="email")
    if await _customer_by_email(session, address) is not None:
        raise taken
    password_hash = await password_hashing(settings.password_hash_profile).hash(password)
    customer = Customer(
        email=address, password_hash=password_hash, name=name, phone=phone, created_at=now
    )
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
    except IntegrityError:  # another sign-up with the same email won the race
        raise taken from None
    if club is not None:
        await join_club(session, customer.id, club, now=now)
    return await _start(session, viewer, customer, guest_cart_id, settings, now)


async def sign_in(
    session: AsyncSession,
    viewer: Viewer,
    *,
    email: str,
    password: str,
    guest_cart_id: int | None,
    client_address: str,
    attempts: AttemptCounter,
    settings: Settings,
    now: datetime,
) -> SignedIn:
    """Check the password, attach the guest cart the caller holds, and start a session.

    ``attempts`` admits the sign-in first (RateLimited past the limit) and keeps a wrong
    email or password counted whatever becomes of the caller's transaction.
    """
    address = normalise_email(email)
    hashing = password_hashing(settings.password_hash_profile)
    async with start_sign_in(
        attempts, "signin", email=address, client_address=client_address, hashing=hashing, now=now
    ) as attempt:
        customer = await attempt.check(await _customer_by_email(session, address), password)
    async with session.begin_nested():
        await rehash_if_outdated(customer, password, hashing)
        return await _start(session, viewer, customer, guest_cart_id, settings, now)


async def sign_out(session: AsyncSession, viewer: Viewer, *, everywhere: bool) -> int:
    """End the caller's session (or every session of the customer); return how many ended."""
    if viewer.customer_id is None or viewer.session_id is None:
        raise PermissionDenied("You are not signed in.")
    stmt = delete(CustomerSession).where(
        CustomerSession.customer_id == viewer.customer_id
        if everywhere
        else CustomerSession.id == viewer.session_id
    )
    result = await session.execute(stmt.returning(CustomerSession.id))
    return len(result.all())


async def customers_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, Customer]:
    """Return customers by id in one query."""
    if not ids:
        return {}
    rows = await session.execute(select(Customer).where(Customer.id.in_(set(ids))))
    return {c.id: c for c in rows.scalars()}


async def add_device(
    session: AsyncSession, *, store_code: str, kind: DeviceKind, name: str | None, now: datetime
) -> tuple[DeviceRecord, str]:
    """Register a device of a store; return it and its token (shown only once).

    Kinds: ``kiosk``, ``staff``, and the integration devices that record stock movements,
    ``pos`` (a till: its store) and ``warehouse`` (its store and the online warehouse).
    """
    if kind not in ("kiosk", "staff", "pos", "warehouse"):
        raise InvalidInput("A device is a kiosk, staff, pos or warehouse device.", field="kind")
    store = await catalog.store_by_code(session, store_code)
    if store is None:
        raise NotFound(f"No store has the code {store_code!r}.", field="store")
    token = new_token(DEVICE_PREFIX)
    device = Device(
        store_id=store.id,
        kind=kind,
        name=name or f"{store.code} {kind}",
        token_hash=token_hash(token),
        created_at=now,
    )
    session.add(device)
    await session.flush()
    return DeviceRecord(device.id, store.code, kind, device.name, now, None), token


async def list_devices(
    session: AsyncSession, store_code: str | None = None, *, device_id: int | None = None
) -> list[DeviceRecord]:
    """Return the registered devices (of one store, or one device, if given), oldest first."""
    stmt = select(Device, Store.code).join(Store, Store.id == Device.store_id).order_by(Device.id)
    if store_code is not None:
        stmt = stmt.where(Store.code == store_code)
    if device_id is not None:
        stmt = stmt.where(Device.id == device_id)
    return [
        DeviceRecord(d.id, code, d.kind, d.name, d.created_at, d.revoked_at)  # type: ignore[arg-type]
        for d, code in await session.execute(stmt)
    ]


async def revoke_device(session: AsyncSession, device_id: int, now: datetime) -> DeviceRecord:
    """Stop a device's token from working, at once and for good."""
    await session.execute(
        update(Device)
        .where(Device.id == device_id, Device.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    found = await list_devices(session, device_id=device_id)
    if not found:
        raise NotFound(f"There is no device {device_id}.", field="device")
    return found[0]


async def _start(
    session: AsyncSession,
    viewer: Viewer,
    customer: Customer,
    guest_cart_id: int | None,
    settings: Settings,
    now: datetime,
) -> SignedIn:
    changed: tuple[CartView, ...] = ()
    if guest_cart_id is not None:
        attached = await attach_guest_cart(
            session,
            customer.id,
            guest_cart_id,
            viewer.cart_token_hash,
            now,
            max_quantity=settings.max_line_quantity,
        )
        cart: CartView | None = attached.cart
        changed = attached.changed
    else:
        cart = await active_cart_of(session, customer.id)
    token, expires_at = await start_session(
        session,
        CustomerSession,
        CustomerSession.customer_id,
        customer.id,
        prefix=CUSTOMER_SESSION_PREFIX,
        lifetime=timedelta(days=settings.customer_session_days),
        now=now,
    )
    return SignedIn(token, expires_at, customer, cart, changed)


async def _customer_by_email(session: AsyncSession, email: str) -> Customer | None:
    return (
        await session.execute(select(Customer).where(Customer.email == email))
    ).scalar_one_or_none()


def _plausible(token: str | None) -> TypeGuard[str]:
    return token is not None and 0 < len(token) <= MAX_TOKEN_LENGTH
