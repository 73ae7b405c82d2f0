"""Idempotency keys: a retried cart mutation answers its first result and changes nothing twice.

A key is scoped to one cart and one operation (``cartLinesAdd`` …) and kept for a day. It
is stored with a fingerprint of the request, so the same key sent with another request is
refused with ``IdempotencyKeyReused`` rather than silently answering something else. Only
successful outcomes are kept: a request that failed changed nothing, so retrying it runs it
again.

Keys are looked up only while the cart's row is locked by the write, so a retry racing its
own first attempt waits for it and then finds its key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.carts.views import CartView
from server.errors import IdempotencyKeyReused, InvalidInput
from server.models import IdempotencyKey

KEY_LIFETIME = timedelta(days=1)
MAX_KEY_LENGTH = 200


def check_key(key: str | None) -> str | None:
    """Return the key as given, or raise InvalidInput when it is empty or too long."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    return key


def fingerprint(operation: str, request: Any) -> str:
    """Return the hash of a request's canonical JSON form (the key itself excluded)."""
    canonical = json.dumps([operation, request], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def recorded_outcome(
    session: AsyncSession, cart_id: int, operation: str, key: str, request_hash: str, now: datetime
) -> CartView | None:
    """Return the cart a live key answered with, None for a new key; refuse a reused one."""
    row = (
        await session.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.outcome).where(
                IdempotencyKey.cart_id == cart_id,
                IdempotencyKey.operation == operation,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at > now,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This idempotency key was already used for a different request on this cart.",
            field="idempotencyKey",
        )
    return CartView.from_snapshot(row.outcome)


async def record_outcome(
    session: AsyncSession,
    operation: str,
    key: str,
    request_hash: str,
    cart: CartView,
    now: datetime,
) -> None:
    """Keep the outcome of a successful request under its key for a day.

    Expired keys of the same cart are dropped here, while its row is locked anyway, so the
    table never holds much more than a day of traffic per active cart.
    """
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.cart_id == cart.id, IdempotencyKey.expires_at <= now
        )
    )
    await session.execute(
        insert(IdempotencyKey).values(
            cart_id=cart.id,
            operation=operation,
            key=key,
            request_hash=request_hash,
            outcome=cart.to_snapshot(),
            created_at=now,
            expires_at=now + KEY_LIFETIME,
        )
    )


async def forget_keys(session: AsyncSession, cart_id: int) -> None:
    """Drop every key of a cart that can no longer change (merged into another)."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.cart_id == cart_id))
