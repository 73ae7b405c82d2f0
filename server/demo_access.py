"""How one signs in to the demo: a demo admin account and one kiosk per demo store.

``ensure_demo_access`` runs on every ``omnicart serve --demo`` (and ``omnicart seed --demo``,
and a start with ``OMNICART_DEMO=true``) after the demo data is in place; what exists already
is left as it is, so it creates the accounts on the first start only.

* The staff account is an ``admin`` (every store) with a fixed, published demo password:
  ``DEMO_STAFF_EMAIL`` / ``DEMO_STAFF_PASSWORD``. It is a demo: never run ``--demo`` where
  strangers can reach the server.
* Device tokens are stored only as hashes, so a random token could be shown once and never
  again. A demo kiosk's token is instead derived from the server's secret key and the store
  code (HMAC-SHA-256, 256 bits like every token): the server can print the same sign-in link
  on every demo start without ever storing a token in the clear. A demo kiosk revoked with
  ``omnicart device revoke`` stays revoked: it is neither re-created nor printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import Database
from server.models import Device, StaffUser, Store, utcnow
from server.signin import PasswordHashing, normalise_email, password_hashing
from server.staff.accounts import add_staff
from server.tokens import DEVICE_PREFIX, token_hash

DEMO_STAFF_EMAIL = "demo.admin@omnicart.test"
DEMO_STAFF_PASSWORD = "omnicart-demo"
DEMO_STAFF_NAME = "Demo Admin"
# Not the seed's key: the two may run back to back, never need to wait for each other.
_ACCESS_LOCK_KEY = 0x0C_DE_30_AC


@dataclass(frozen=True, slots=True)
class DemoAccess:
    """The demo's sign-in details; ``created`` lists what this call created."""

    staff_email: str
    staff_password: str
    #: Store code → the bearer token of that store's demo kiosk (not revoked ones).
    kiosk_tokens: dict[str, str] = field(default_factory=dict)
    created: tuple[str, ...] = ()

    def lines(self, base_url: str) -> list[str]:
        """Return how to sign in, as lines to print for the person who started the demo."""
        out = [
            f"Staff tablet: {base_url}/staff  (admin) email {self.staff_email}"
            f"  password {self.staff_password}",
        ]
        out += [
            f"Kiosk {code}: {base_url}/kiosk#device={token}&store={code}"
            for code, token in sorted(self.kiosk_tokens.items())
        ]
        return out


def demo_kiosk_token(secret_key: str, store_code: str) -> str:
    """Return the bearer token of a store's demo kiosk, derived from the server's secret key."""
    message = f"omnicart demo kiosk {store_code}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return DEVICE_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def ensure_demo_access(db: Database, settings: Settings) -> DemoAccess:
    """Create the demo admin and a kiosk for every store unless they exist; return sign-in."""
    secret_key = settings.resolved_secret_key()
    async with db.transaction(write=True) as session:
        if not db.is_sqlite:
            # Several workers starting with OMNICART_DEMO=true create the accounts once.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ACCESS_LOCK_KEY}
            )
        now = utcnow()
        hashing = password_hashing(settings.password_hash_profile)
        created = [DEMO_STAFF_EMAIL] if await _ensure_staff(session, hashing, now) else []
        tokens: dict[str, str] = {}
        for store in (await session.execute(select(Store).order_by(Store.code))).scalars():
            token = demo_kiosk_token(secret_key, store.code)
            state = await _ensure_kiosk(session, store, token, now)
            if state == "created":
                created.append(f"{store.code} demo kiosk")
            if state != "revoked":
                tokens[store.code] = token
    return DemoAccess(DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, tokens, tuple(created))


async def _ensure_staff(session: AsyncSession, hashing: PasswordHashing, now: datetime) -> bool:
    """Create the demo admin unless an account has its email; return whether it was created."""
    email = normalise_email(DEMO_STAFF_EMAIL)
    found = await session.execute(select(StaffUser.id).where(StaffUser.email == email))
    if found.first() is not None:
        return False
    await add_staff(session, email=email, name=DEMO_STAFF_NAME, role="admin", store_code=None,
                    password=DEMO_STAFF_PASSWORD, hashing=hashing, now=now)  # fmt: skip
    return True


async def _ensure_kiosk(session: AsyncSession, store: Store, token: str, now: datetime) -> str:
    """Register the store's demo kiosk unless it exists: "created", "exists" or "revoked"."""
    digest = token_hash(token)
    found = await session.execute(select(Device.revoked_at).where(Device.token_hash == digest))
    row = found.first()
    if row is not None:
        return "exists" if row.revoked_at is None else "revoked"
    session.add(Device(store_id=store.id, kind="kiosk", name=f"{store.code} demo kiosk",
                       token_hash=digest, created_at=now))  # fmt: skip
    await session.flush()
    return "created"
