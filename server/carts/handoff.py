"""Kiosk handoff: the phone shows a short code, a kiosk or staff device claims the cart with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.views import CartView, load_view, reachable_by
from server.errors import CodeExpired, NotFound, PermissionDenied
from server.models import Cart, CartClaim, CartHandoff, Device
from server.ratelimit import AttemptCounter
from server.states import CartStatus
from server.tokens import (
    display_handoff_code,
    handoff_code_hash,
    new_handoff_code,
    normalise_handoff_code,
)
from server.viewer import DeviceIdentity, Viewer

# Used and expired codes are kept this long (to audit claims), then dropped.
_HISTORY = timedelta(days=1)
_WRONG_CODE = "This code is wrong, expired or already used; ask for a new one on the phone."


@dataclass(frozen=True, slots=True)
class HandoffCode:
    """A freshly issued code in canonical form; shown to people as ``display``."""

    code: str
    expires_at: datetime

    @property
    def display(self) -> str:
        """Return the code as the phone shows it, e.g. ``K7QM-3XPA``."""
        return display_handoff_code(self.code)


async def create_handoff(
    session: AsyncSession,
    viewer: Viewer,
    cart_id: int,
    *,
    secret_key: str,
    lifetime: timedelta,
    now: datetime,
) -> HandoffCode:
    """Issue a single-use code for a cart; only its holder (token or customer) may ask.

    A cart has at most one live code: issuing a new one ends the previous one, which keeps
    the number of guessable codes as small as the number of carts being handed over.
    """
    reachable = (
        await session.execute(
            select(Cart.id).where(Cart.id == cart_id, reachable_by(viewer.as_cart_holder(), now))
        )
    ).scalar_one_or_none()
    if reachable is None:
        raise NotFound("There is no such cart.", field="cartId")
    await end_live_codes(session, cart_id, now)
    await session.execute(
        delete(CartHandoff).where(
            CartHandoff.cart_id == cart_id, CartHandoff.expires_at < now - _HISTORY
        )
    )
    code = new_handoff_code()
    # Two live codes with one hash would be ambiguous; at ~39 bits a clash is rare, not impossible.
    while await _live_handoff_id(session, handoff_code_hash(code, secret_key), now) is not None:
        code = new_handoff_code()
    expires_at = now + lifetime
    await session.execute(
        insert(CartHandoff).values(
            cart_id=cart_id,
            code_hash=handoff_code_hash(code, secret_key),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return HandoffCode(code, expires_at)


async def end_live_codes(session: AsyncSession, cart_id: int, now: datetime) -> None:
    """End a cart's live (unused, unexpired) handoff codes; used ones stay as the claim's record."""
    await session.execute(
        update(CartHandoff)
        .where(
            CartHandoff.cart_id == cart_id,
            CartHandoff.used_at.is_(None),
            CartHandoff.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


async def claim_handoff(
    session: AsyncSession,
    viewer: Viewer,
    text: str,
    *,
    client_address: str,
    secret_key: str,
    claim_lifetime: timedelta,
    attempts: AttemptCounter,
    now: datetime,
) -> CartView:
    """Give the calling kiosk or staff device access to the cart behind a code, once.

    Wrong, expired and used codes all answer ``CodeExpired`` (so an answer never tells a
    guesser whether a code existed). ``attempts`` admits each claim against the device and
    the client address before the code is looked up, and a claim that fails stays counted
    whatever becomes of the caller's transaction; past the limit every claim answers
    ``RateLimited``.
    """
    device = viewer.device
    if device is None or device.kind not in ("kiosk", "staff"):
        raise PermissionDenied("Only a kiosk or staff device can pick up a cart with a code.")
    buckets = [f"claim:device:{device.id}", f"claim:addr:{client_address}"]
    async with attempts.attempt(buckets, now) as attempt:
        async with session.begin_nested():
            cart = await _claim(session, device, text, secret_key, claim_lifetime, now)
        attempt.succeeded()
    return cart


async def _claim(
    session: AsyncSession,
    device: DeviceIdentity,
    text: str,
    secret_key: str,
    claim_lifetime: timedelta,
    now: datetime,
) -> CartView:
    code = normalise_handoff_code(text)
    if code is None:
        raise CodeExpired(_WRONG_CODE, field="code")
    # Marking the code used is the claim itself: of two devices racing, one row update wins.
    used = (
        await session.execute(
            update(CartHandoff)
            .where(
                CartHandoff.code_hash == handoff_code_hash(code, secret_key),
                CartHandoff.used_at.is_(None),
                CartHandoff.expires_at > now,
                CartHandoff.cart_id.in_(select(Cart.id).where(Cart.status == CartStatus.ACTIVE)),
            )
            .values(used_at=now, used_by_device_id=device.id)
            .returning(CartHandoff.id, CartHandoff.cart_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if used is None:
        raise CodeExpired(_WRONG_CODE, field="code")
    handoff_id, cart_id = used
    if device.kind == "kiosk":
        # A kiosk serves one shopper at a time: picking up a cart ends its earlier claims.
        await session.execute(
            update(CartClaim)
            .where(CartClaim.device_id == device.id, CartClaim.expires_at > now)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        insert(CartClaim).values(
            cart_id=cart_id,
            device_id=device.id,
            handoff_id=handoff_id,
            created_at=now,
            expires_at=now + claim_lifetime,
        )
    )
    cart = await load_view(session, cart_id)
    assert cart is not None, "a claimed cart exists"
    return cart


@dataclass(frozen=True, slots=True)
class HandoffStatus:
    """The newest handoff code of a cart: until when it works, and who claimed it, if anyone.

    ``version`` counts what happened to it (1 issued, 2 claimed), so a follower can tell a
    claim from the code it already showed.
    """

    cart_id: int
    handoff_id: int
    expires_at: datetime
    claimed_at: datetime | None
    claimed_at_store_id: int | None

    @property
    def version(self) -> int:
        """Return 2 once claimed, else 1."""
        return 2 if self.claimed_at is not None else 1


def handoff_topic(cart_id: int) -> str:
    """Return the topic on which a cart's handoff codes announce being claimed."""
    return f"handoff:{cart_id}"


async def handoff_status(
    session: AsyncSession, viewer: Viewer, cart_id: int, now: datetime
) -> HandoffStatus | None:
    """Return the cart's newest handoff code for its holder; None when the cart is out of
    their reach or has never been handed over."""
    row = (
        await session.execute(
            select(
                CartHandoff.id,
                CartHandoff.expires_at,
                CartHandoff.used_at,
                Device.store_id,
            )
            .join(Cart, Cart.id == CartHandoff.cart_id)
            .outerjoin(Device, Device.id == CartHandoff.used_by_device_id)
            .where(CartHandoff.cart_id == cart_id, reachable_by(viewer.as_cart_holder(), now))
            .order_by(CartHandoff.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    handoff_id, expires_at, used_at, store_id = row
    return HandoffStatus(cart_id, handoff_id, expires_at, used_at, store_id)


async def live_handoff_code(
    session: AsyncSession, text: str, *, secret_key: str, now: datetime
) -> str | None:
    """Return the canonical code when ``text`` is a live (unused, unexpired) code, else None."""
    code = normalise_handoff_code(text)
    if code is None:
        return None
    found = await _live_handoff_id(session, handoff_code_hash(code, secret_key), now)
    return None if found is None else code


async def _live_handoff_id(session: AsyncSession, code_hash: str, now: datetime) -> int | None:
    return (
        await session.execute(
            select(CartHandoff.id)
            .where(
                CartHandoff.code_hash == code_hash,
                CartHandoff.used_at.is_(None),
                CartHandoff.expires_at > now,
                # A checkout closes the cart without ending its codes: they lead nowhere.
                CartHandoff.cart_id.in_(select(Cart.id).where(Cart.status == CartStatus.ACTIVE)),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
