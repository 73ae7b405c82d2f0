"""Staff accounts: added on the command line, signing in on tablets with email and password.

Passwords are hashed with Argon2id like customers' (argon2-cffi defaults), verified in a
worker thread; a failed sign-in answers one ``UNAUTHORIZED`` whatever was wrong (unknown
email, wrong password, disabled account), takes the same time, and counts against the
email and the client address (the shared failed-attempt limit, ``server.ratelimit``). A
sign-in gives an ``ss_…`` bearer token valid ``staff_session_hours``; only its SHA-256 is
kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.config import Settings
from server.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from server.models import StaffSession, StaffUser, Store
from server.ratelimit import AttemptCounter
from server.signin import (
    PasswordHashing,
    check_password_rules,
    normalise_email,
    password_hashing,
    rehash_if_outdated,
    start_session,
    start_sign_in,
)
from server.tokens import STAFF_SESSION_PREFIX, token_hash
from server.viewer import StaffIdentity, StaffRole, Viewer

ROLES: tuple[StaffRole, ...] = ("staff", "admin")


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """A staff account as lists and GraphQL show it (never the password hash)."""

    id: int
    email: str
    name: str
    role: StaffRole
    store_id: int | None
    store_code: str | None
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    """A new staff session: the token (shown once) and who signed in."""

    token: str
    expires_at: datetime
    staff: StaffRecord


async def add_staff(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: str,
    store_code: str | None,
    password: str,
    hashing: PasswordHashing,
    now: datetime,
) -> StaffRecord:
    """Create a staff account: ``staff`` needs a store, ``admin`` works for every store.

    ``hashing`` is ``server.signin.password_hashing`` of the settings' profile.
    """
    address = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput("A staff role is staff or admin.", field="role")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("A name has 1 to 200 characters.", field="name")
    check_password_rules(password)
    store: Store | None = None
    if store_code:
        store = await catalog.store_by_code(session, store_code)
        if store is None:
            raise NotFound(f"No store has the code {store_code!r}.", field="store")
    elif role == "staff":
        raise InvalidInput("Staff work in one store: give its code.", field="store")
    password_hash = await hashing.hash(password)
    try:
        async with session.begin_nested():
            staff_id = (
                await session.execute(
                    insert(StaffUser)
                    .values(
                        email=address,
                        name=name.strip(),
                        password_hash=password_hash,
                        role=role,
                        store_id=store.id if store else None,
                        created_at=now,
                    )
                    .returning(StaffUser.id)
                )
            ).scalar_one()
    except IntegrityError:
        raise Conflict("A staff account with this email exists.", field="email") from None
    return StaffRecord(
        staff_id,
        address,
        name.strip(),
        role,  # type: ignore[arg-type]
        store.id if store else None,
        store.code if store else None,
        now,
        None,
    )


async def list_staff(session: AsyncSession) -> list[StaffRecord]:
    """Return every staff account, oldest first."""
    rows = await session.execute(
        select(StaffUser, Store.code)
        .outerjoin(Store, Store.id == StaffUser.store_id)
        .order_by(StaffUser.id)
    )
    return [_record(user, code) for user, code in rows]


async def staff_by_ids(session: AsyncSession, ids: list[int]) -> dict[int, StaffRecord]:
    """Return staff accounts by id in one query."""
    if not ids:
        return {}
    rows = await session.execute(
        select(StaffUser, Store.code)
        .outerjoin(Store, Store.id == StaffUser.store_id)
        .where(StaffUser.id.in_(set(ids)))
    )
    return {user.id: _record(user, code) for user, code in rows}


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client_address: str,
    attempts: AttemptCounter,
    settings: Settings,
    now: datetime,
) -> StaffSignedIn:
    """Check a staff user's password and start a session on this tablet.

    ``attempts`` admits the sign-in first (RateLimited past the limit) and keeps a failure
    counted whatever becomes of the caller's transaction.
    """
    address = normalise_email(email)
    hashing = password_hashing(settings.password_hash_profile)
    async with start_sign_in(
        attempts,
        "staff-signin",
        email=address,
        client_address=client_address,
        hashing=hashing,
        now=now,
    ) as attempt:
        found, code = (
            await session.execute(
                select(StaffUser, Store.code)
                .outerjoin(Store, Store.id == StaffUser.store_id)
                .where(StaffUser.email == address)
            )
        ).one_or_none() or (None, None)
        # A disabled account answers like a wrong password.
        user = await attempt.check(
            found, password, usable=found is None or found.disabled_at is None
        )
    async with session.begin_nested():
        await rehash_if_outdated(user, password, hashing)
        token, expires_at = await start_session(
            session,
            StaffSession,
            StaffSession.staff_user_id,
            user.id,
            prefix=STAFF_SESSION_PREFIX,
            lifetime=timedelta(hours=settings.staff_session_hours),
            now=now,
        )
    return StaffSignedIn(token, expires_at, _record(user, code))


async def sign_out(session: AsyncSession, viewer: Viewer) -> int:
    """End the caller's staff session; return how many ended (0 or 1)."""
    if viewer.staff is None:
        raise PermissionDenied("You are not signed in as staff.")
    result = await session.execute(
        delete(StaffSession)
        .where(StaffSession.id == viewer.staff.session_id)
        .returning(StaffSession.id)
    )
    return len(result.all())


async def staff_identity(session: AsyncSession, token: str, now: datetime) -> StaffIdentity | None:
    """Return the staff user a live ``ss_…`` token stands for, or None."""
    row = (
        await session.execute(
            select(
                StaffSession.id, StaffUser.id, StaffUser.role, StaffUser.store_id, StaffUser.name
            )
            .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
            .where(
                StaffSession.token_hash == token_hash(token),
                StaffSession.expires_at > now,
                StaffUser.disabled_at.is_(None),
            )
        )
    ).one_or_none()
    if row is None:
        return None
    session_id, staff_id, role, store_id, name = row
    return StaffIdentity(staff_id, cast(StaffRole, role), store_id, name, session_id)


def _record(user: StaffUser, store_code: str | None) -> StaffRecord:
    return StaffRecord(
        user.id,
        user.email,
        user.name,
        user.role,  # type: ignore[arg-type]
        user.store_id,
        store_code,
        user.created_at,
        user.disabled_at,
    )
