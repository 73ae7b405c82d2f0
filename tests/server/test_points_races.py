"""50 real checkouts spending one member's points at once, over HTTP against a real uvicorn.

One customer has one active cart, so the 50 shoppers' checkouts are of that cart, each
ordering its own line (``lineIds``) with ``usePoints: 300`` out of 1,000 points. A checkout
that finds the cart moved on (VERSION_CONFLICT, answered with the current cart) tries again
at the version it was told, as the PWA does; so every one of the 50 ends either placed or
refused for its points, and the points decide how many are placed: exactly three.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from server.club.points import add_entry
from server.db import Database
from server.models import Customer, Order, PointEntry, utcnow
from server.states import PointKind
from tests.clients import add_lines, collect_at, graphql, new_cart, settings_for
from tests.live import serve_in_thread
from tests.rows import add_product, add_store, fresh_ean13

SHOPPERS = 50
BALANCE = 1000
USE = 300
TRIES = 4 * SHOPPERS  # far more than the three versions the cart can move through

SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) {
    token customer { id membership { number } } errors { code }
  }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { number } cart { version } errors { code field }
  }
}
"""
POINTS = "{ me { membership { points } } }"


async def member_with_points(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    """Sign up a club member over HTTP and give them BALANCE points; return their headers."""
    variables: dict[str, object] = {
        "input": {
            "email": "kari@example.com", "password": "correct horse battery",
            "joinClub": True, "consents": {"clubTerms": True},
        }
    }  # fmt: skip
    payload = (await graphql(client, SIGN_UP, variables))["data"]["customerSignUp"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    async with db.transaction() as session:
        customer_id = await session.scalar(
            select(Customer.id).where(Customer.email == "kari@example.com")
        )
        assert customer_id is not None
        await add_entry(session, customer_id, PointKind.EARNED, BALANCE, "test grant", now=utcnow())
    return {"Authorization": f"Bearer {payload['token']}"}


async def checkout_line(
    client: httpx.AsyncClient,
    member: dict[str, str],
    cart_id: str,
    version: int,
    line_id: str,
    store_id: int,
) -> tuple[str, int]:
    """Check out one line with USE points, following the cart's version; return the outcome.

    The outcome is ("PLACED", tries) or (the error code, tries).
    """
    for tries in range(1, TRIES + 1):
        request = {
            "cartId": cart_id,
            "expectedVersion": version,
            "fulfilment": collect_at(store_id),
            "lineIds": [line_id],
            "usePoints": USE,
        }
        body = await graphql(client, CHECKOUT, {"input": request}, member)
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["checkout"]  # type: ignore[index,assignment]
        if payload["order"] is not None:
            return "PLACED", tries
        (error,) = payload["errors"]
        if error["code"] != "VERSION_CONFLICT":
            return error["code"], tries
        version = payload["cart"]["version"]
    raise AssertionError(f"a checkout still met VERSION_CONFLICT after {TRIES} tries")


async def test_50_concurrent_http_checkouts_never_spend_more_points_than_the_balance(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    codes = [fresh_ean13() for _ in range(SHOPPERS)]
    for i, code in enumerate(codes):
        await add_product(db, gtins=[code], name=f"Vare {i}", price=5000, stock={location: (1, 0)})
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            member = await member_with_points(client, db)
            cart_id, reach = await new_cart(client, member)
            cart = await add_lines(client, cart_id, reach, [(code, 1) for code in codes])
            assert len(cart["lines"]) == SHOPPERS
            outcomes = await asyncio.gather(
                *(
                    checkout_line(client, member, cart_id, cart["version"], line["id"], store_id)
                    for line in cart["lines"]
                )
            )
            body = await graphql(client, POINTS, None, member)
    codes_seen = sorted(code for code, _ in outcomes)
    assert codes_seen.count("PLACED") == BALANCE // USE == 3
    assert codes_seen.count("INSUFFICIENT_POINTS") == SHOPPERS - 3
    assert body["data"]["me"]["membership"]["points"] == BALANCE - 3 * USE  # type: ignore[index]
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(PointEntry.kind, PointEntry.points).order_by(PointEntry.id)
            )
        ).all()
        orders = await session.scalar(select(func.count()).select_from(Order))
    # The ledger is the grant and three holds; its sum is the balance the member sees.
    assert [tuple(row) for row in rows] == [("earned", BALANCE)] + [("held", -USE)] * 3
    assert sum(points for _, points in rows) == BALANCE - 3 * USE
    assert orders == 3
    # Most of the 50 really met each other: many had to follow the cart's version.
    assert max(tries for _, tries in outcomes) > 1
