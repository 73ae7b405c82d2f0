"""Signing in with email and password, the same way for customers and staff.

Passwords have 8 to 256 characters and are hashed with Argon2id in a worker thread, with the
argon2-cffi profile ``OMNICART_PASSWORD_HASH_PROFILE`` names (RFC 9106's low-memory one,
argon2-cffi's default, unless set), and rehashed on sign-in when the profile changes. A
failed sign-in answers one ``UNAUTHORIZED`` ("the email or password is wrong") whatever was
wrong, takes the same time whether or not the account exists, and counts against the email
and the client address (``server.ratelimit``): each sign-in is admitted there before its
password is verified, in a count that commits whatever becomes of the operation, and a right
password is uncounted again. A sign-in stores only the SHA-256 of its session token. Who may
sign in and what a session reaches stay with each domain (``server.accounts``,
``server.staff``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol, TypeVar

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.config import PasswordHashProfile
from server.errors import InvalidInput, PermissionDenied
from server.models import CustomerSession, StaffSession
from server.ratelimit import Attempt, AttemptCounter
from server.tokens import new_token, token_hash

MIN_PASSWORD = 8
MAX_PASSWORD = 256
_WRONG_CREDENTIALS = "The email or password is wrong."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class Account(Protocol):
    """A row that signs in with a password (a customer, a staff user)."""

    password_hash: str


A = TypeVar("A", bound=Account)


def normalise_email(text: str) -> str:
    """Return the stored form of an email address, or raise InvalidInput."""
    email = text.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput("This is not an email address.", field="email")
    return email


def check_password_rules(password: str) -> None:
    """Raise InvalidInput unless a new password has 8 to 256 characters."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.", field="password"
        )


_PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,  # argon2-cffi's default: 64 MiB, 3 passes
    "rfc9106-high-memory": profiles.RFC_9106_HIGH_MEMORY,  # 2 GiB, 1 pass
    "cheapest-for-tests": profiles.CHEAPEST,  # 8 KiB, 1 pass: for test suites only
}


class PasswordHashing:
    """How new passwords are hashed, and the hash an unknown account is checked against.

    Verifying reads the parameters stored in each hash, so a change of profile keeps every
    stored password valid; each is hashed anew at its next sign-in. Every hash and check runs
    in a worker thread, the unknown account's hash too (made at its first use).
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """Return the stored form of a new password (computed in a worker thread)."""
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Say whether ``password`` is the one ``stored`` was made from (None: no account).

        No account costs one verification too, against a hash of a random password, so the
        answer takes as long either way.
        """
        return await asyncio.to_thread(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            if self._dummy is None:  # two threads may both make one: either will do
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=4)
def password_hashing(profile: PasswordHashProfile) -> PasswordHashing:
    """Return the hashing of the named argon2-cffi profile (one per process and profile)."""
    return PasswordHashing(PasswordHasher.from_parameters(_PROFILES[profile]))


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """One sign-in, admitted by the rate limit and counted as a failure until it checks out."""

    attempt: Attempt
    hashing: PasswordHashing

    async def check(self, account: A | None, password: str, *, usable: bool = True) -> A:
        """Return ``account`` when ``password`` is its password and it is ``usable``.

        Otherwise raise PermissionDenied, and the attempt stays counted. An unknown account
        costs one verification too, so the answer takes as long either way.
        """
        stored = account.password_hash if account is not None else None
        verified = await self.hashing.verify(stored, password)
        if not verified or account is None or not usable:
            raise PermissionDenied(_WRONG_CREDENTIALS)
        self.attempt.succeeded()
        return account


@asynccontextmanager
async def start_sign_in(
    attempts: AttemptCounter,
    kind: str,
    *,
    email: str,
    client_address: str,
    hashing: PasswordHashing,
    now: datetime,
) -> AsyncIterator[SignInAttempt]:
    """Admit a sign-in of ``kind`` (the buckets' prefix), or raise RateLimited.

    The block checks the password with ``SignInAttempt.check``. Unless that succeeds, the
    attempt stays counted against the client address and the email.
    """
    email_key = hashlib.sha256(email.encode()).hexdigest()[:32]
    buckets = (f"{kind}:addr:{client_address}", f"{kind}:email:{email_key}")
    async with attempts.attempt(buckets, now) as attempt:
        yield SignInAttempt(attempt, hashing)


async def rehash_if_outdated(account: Account, password: str, hashing: PasswordHashing) -> None:
    """Hash a just-verified password again when it was hashed with other parameters."""
    if hashing.hasher.check_needs_rehash(account.password_hash):
        account.password_hash = await hashing.hash(password)


async def start_session(
    session: AsyncSession,
    table: type[CustomerSession] | type[StaffSession],
    owner: InstrumentedAttribute[int],
    owner_id: int,
    *,
    prefix: str,
    lifetime: timedelta,
    now: datetime,
) -> tuple[str, datetime]:
    """Store a new session of ``owner_id`` in ``table``; return its token and expiry.

    The owner's expired sessions are dropped on the way, so the table does not grow forever.
    """
    await session.execute(delete(table).where(owner == owner_id, table.expires_at <= now))
    token = new_token(prefix)
    expires_at = now + lifetime
    await session.execute(
        insert(table).values(
            {
                owner.key: owner_id,
                "token_hash": token_hash(token),
                "created_at": now,
                "expires_at": expires_at,
            }
        )
    )
    return token, expires_at
