"""Expired idempotency keys and failed attempts: left alone by requests, deleted by the task.

A shopper's request used to delete them on the way (the cart's expired keys with each keyed
change, a bucket's old failures with each counted attempt). Now only the background
housekeeping (``server.housekeeping.expire_rows``, every server process, and ``omnicart
housekeeping``) does, in batches; live rows stay.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from schema.ids import decode_id
from server.db import Database
from server.housekeeping import expire_rows
from server.models import AuthFailure, IdempotencyKey, utcnow
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.documents import ADD_LINES, CUSTOMER_SIGN_IN
from tests.rows import add_product, fresh_ean13

WINDOW = timedelta(minutes=15)


async def keys_of(db: Database, cart_id: int) -> list[str]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(IdempotencyKey.key)
            .where(IdempotencyKey.cart_id == cart_id)
            .order_by(IdempotencyKey.key)
        )
        return list(rows.scalars())


async def test_a_keyed_change_leaves_expired_keys_and_housekeeping_deletes_them(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        cart = int(decode_id(cart_id, "Cart"))
        # Two keys of the same cart that expired yesterday, in batches of one below.
        yesterday = utcnow() - timedelta(days=1)
        async with db.transaction() as session:
            await session.execute(
                insert(IdempotencyKey),
                [
                    {
                        "cart_id": cart,
                        "operation": "cartLinesAdd",
                        "key": key,
                        "request_hash": "0" * 64,
                        "outcome": {},
                        "created_at": yesterday - timedelta(days=1),
                        "expires_at": yesterday,
                    }
                    for key in ("old-1", "old-2")
                ],
            )
        change = {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1}]}
        variables = {"input": change | {"idempotencyKey": "new"}}
        body = await graphql(client, ADD_LINES, variables, reach)
        assert body["data"]["cartLinesAdd"]["errors"] == []  # type: ignore[index]
    assert await keys_of(db, cart) == ["new", "old-1", "old-2"]
    expired = await expire_rows(db, failure_window=WINDOW, batch=1)
    assert expired.idempotency_keys == 2
    assert await keys_of(db, cart) == ["new"]


async def failures(db: Database) -> list[tuple[str, bool]]:
    """Return each failure's bucket and whether it is older than the window."""
    cutoff = utcnow() - WINDOW
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(AuthFailure.bucket, AuthFailure.occurred_at).order_by(AuthFailure.id)
        )
        return [(bucket, at <= cutoff) for bucket, at in rows]


async def test_a_counted_attempt_leaves_old_failures_and_housekeeping_deletes_them(
    db: Database, tmp_path: Path
) -> None:
    wrong = {"input": {"email": "kari@example.com", "password": "not it"}}
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "kari@example.com")
        first = await graphql(client, CUSTOMER_SIGN_IN, wrong)
        assert first["data"]["customerSignIn"]["errors"] != []  # type: ignore[index]
        buckets = sorted({bucket for bucket, _old in await failures(db)})
        assert buckets, "a wrong password is counted"
        # Old failures of the same buckets: past the window, they count no more.
        async with db.transaction() as session:
            old = utcnow() - WINDOW - timedelta(hours=1)
            await session.execute(
                insert(AuthFailure), [{"bucket": b, "occurred_at": old} for b in buckets]
            )
        second = await graphql(client, CUSTOMER_SIGN_IN, wrong)
        assert second["data"]["customerSignIn"]["errors"] != []  # type: ignore[index]
    seen = await failures(db)
    assert sum(1 for _bucket, is_old in seen if is_old) == len(buckets)
    assert sum(1 for _bucket, is_old in seen if not is_old) == 2 * len(buckets)
    expired = await expire_rows(db, failure_window=WINDOW)
    assert expired.auth_failures == len(buckets)
    assert [is_old for _bucket, is_old in await failures(db)] == [False] * (2 * len(buckets))
