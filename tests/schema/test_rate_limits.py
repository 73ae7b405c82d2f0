"""Failed codes and passwords are counted whatever else the request does, and under bursts.

A mutation document may carry a sibling field that fails at the top level and rolls the
whole operation back. The guesses beside it must count all the same, or every request
would get a fresh budget. Bursts of concurrent wrong attempts never get more than the
limit verified, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server.db import Database
from server.models import AuthFailure, CartHandoff
from server.tokens import HANDOFF_ALPHABET
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.documents import CUSTOMER_SIGN_IN, HANDOFF_CLAIM, HANDOFF_CREATE, STAFF_SIGN_IN
from tests.rows import STAFF_PASSWORD, add_device, add_staff, store_with_product

PASSWORD = "correct horse battery"
CUSTOMER_GUESS = (
    'g{i}: customerSignIn(input: {{email: "kari@example.com", password: "guess {i:03d}"}})'
    " {{ token errors {{ code }} }}"
)
STAFF_GUESS = (
    'g{i}: staffSignIn(input: {{email: "ola@shop.no", password: "guess {i:03d}"}})'
    " {{ token errors {{ code }} }}"
)
CLAIM_GUESS = 'g{i}: cartHandoffClaim(input: {{code: "{code}"}}) {{ errors {{ code }} }}'
# Fails at the top level (at most 20 alternatives), which rolls the whole operation back.
POISON = 'scan(input: {{code: "{gtin}"}}) {{ product {{ alternatives(first: 999) {{ id }} }} }}'


def wrong_code(i: int) -> str:
    """Return the ``i``-th of a run of well-formed handoff codes that were never issued."""
    base = len(HANDOFF_ALPHABET)
    return f"ZZZZ-ZZ{HANDOFF_ALPHABET[i // base % base]}{HANDOFF_ALPHABET[i % base]}"


def poisoned(guess: str, count: int, gtin: str, start: int = 0) -> str:
    """Return a mutation of ``count`` guesses and, last, a field that fails at the top level."""
    fields = [guess.format(i=i, code=wrong_code(i)) for i in range(start, start + count)]
    return "mutation {\n" + "\n".join([*fields, POISON.format(gtin=gtin)]) + "\n}"


def guess_codes(body: dict[str, Any], count: int, start: int = 0) -> list[str]:
    """Return the first error code of each guess (``OK`` for none), in document order."""
    data = body["data"]
    return [
        data[f"g{i}"]["errors"][0]["code"] if data[f"g{i}"]["errors"] else "OK"
        for i in range(start, start + count)
    ]


async def failures(db: Database, prefix: str) -> int:
    """Return how many failed attempts are stored in buckets starting with ``prefix``."""
    async with db.transaction(write=False) as session:
        stmt = select(func.count()).where(AuthFailure.bucket.startswith(prefix))
        return int(await session.scalar(stmt) or 0)


async def test_poisoned_customer_sign_ins_are_counted_and_then_rate_limited(
    db: Database, tmp_path: Path
) -> None:
    _, _, gtin, _ = await store_with_product(db)
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        await sign_up(client, "kari@example.com")
        first = await graphql(client, poisoned(CUSTOMER_GUESS, 5, gtin))
        second = await graphql(client, poisoned(CUSTOMER_GUESS, 5, gtin, start=5))
        right = await graphql(
            client, CUSTOMER_SIGN_IN, {"input": {"email": "kari@example.com", "password": PASSWORD}}
        )
    assert first["errors"][0]["message"] == "Ask for 0 to 20 alternatives."
    assert second["errors"][0]["message"] == "Ask for 0 to 20 alternatives."
    assert guess_codes(first, 5) == ["UNAUTHORIZED"] * 3 + ["RATE_LIMITED"] * 2
    assert guess_codes(second, 5, start=5) == ["RATE_LIMITED"] * 5
    assert right["data"]["customerSignIn"] == {"token": None, "errors": [{"code": "RATE_LIMITED"}]}
    # Three failures, each in the address and the email bucket, outlived both rollbacks.
    assert await failures(db, "signin:") == 6


async def test_poisoned_staff_sign_ins_are_counted_and_then_rate_limited(
    db: Database, tmp_path: Path
) -> None:
    _, _, gtin, _ = await store_with_product(db)
    await add_staff(db, "ola@shop.no", role="admin")
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        first = await graphql(client, poisoned(STAFF_GUESS, 5, gtin))
        second = await graphql(client, poisoned(STAFF_GUESS, 5, gtin, start=5))
        right = await graphql(
            client, STAFF_SIGN_IN, {"input": {"email": "ola@shop.no", "password": STAFF_PASSWORD}}
        )
    assert first["errors"][0]["message"] == "Ask for 0 to 20 alternatives."
    assert guess_codes(first, 5) == ["UNAUTHORIZED"] * 3 + ["RATE_LIMITED"] * 2
    assert guess_codes(second, 5, start=5) == ["RATE_LIMITED"] * 5
    assert right["data"]["staffSignIn"] == {"token": None, "errors": [{"code": "RATE_LIMITED"}]}
    assert await failures(db, "staff-signin:") == 6


async def test_poisoned_handoff_claims_are_counted_and_then_rate_limited(
    db: Database, tmp_path: Path
) -> None:
    _, _, gtin, _ = await store_with_product(db)
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL')}"}
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        cart_id, phone = await new_cart(client)
        first = await graphql(client, poisoned(CLAIM_GUESS, 5, gtin), headers=kiosk)
        second = await graphql(client, poisoned(CLAIM_GUESS, 5, gtin, start=5), headers=kiosk)
        issued = await graphql(client, HANDOFF_CREATE, {"input": {"cartId": cart_id}}, phone)
        code = issued["data"]["cartHandoffCreate"]["code"]  # type: ignore[index]
        right = await graphql(client, HANDOFF_CLAIM, {"input": {"code": code}}, kiosk)
    assert first["errors"][0]["message"] == "Ask for 0 to 20 alternatives."
    assert guess_codes(first, 5) == ["CODE_EXPIRED"] * 3 + ["RATE_LIMITED"] * 2
    assert guess_codes(second, 5, start=5) == ["RATE_LIMITED"] * 5
    assert right["data"]["cartHandoffClaim"] == {"cart": None, "errors": [{"code": "RATE_LIMITED"}]}
    assert await failures(db, "claim:") == 6
    async with db.transaction(write=False) as session:
        unused = await session.scalar(select(func.count()).where(CartHandoff.used_at.is_(None)))
    assert unused == 1


async def test_a_right_password_does_not_use_up_the_budget(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        await sign_up(client, "kari@example.com")
        answers = []
        for password in ["wrong one", PASSWORD, PASSWORD, PASSWORD, "wrong two", PASSWORD]:
            variables = {"input": {"email": "kari@example.com", "password": password}}
            body = await graphql(client, CUSTOMER_SIGN_IN, variables)
            errors = body["data"]["customerSignIn"]["errors"]  # type: ignore[index]
            answers.append(errors[0]["code"] if errors else "OK")
    assert answers == ["UNAUTHORIZED", "OK", "OK", "OK", "UNAUTHORIZED", "OK"]
    assert await failures(db, "signin:email:") == 2


async def test_a_burst_of_wrong_claims_from_one_kiosk_gets_at_most_the_limit_verified(
    db: Database, tmp_path: Path
) -> None:
    await store_with_product(db)
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL')}"}
    async with client_for(db, tmp_path, auth_failure_limit=10) as client:
        bodies = await asyncio.gather(
            *(
                graphql(client, HANDOFF_CLAIM, {"input": {"code": wrong_code(i)}}, kiosk)
                for i in range(60)
            )
        )
    codes = [b["data"]["cartHandoffClaim"]["errors"][0]["code"] for b in bodies]  # type: ignore[index]
    verified = codes.count("CODE_EXPIRED")
    assert codes.count("RATE_LIMITED") == 60 - verified
    assert verified == 10
    assert await failures(db, "claim:device:") == verified
    assert await failures(db, "claim:addr:") == verified


async def test_a_burst_of_wrong_passwords_gets_at_most_the_limit_verified(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path, auth_failure_limit=4) as client:
        await sign_up(client, "kari@example.com")
        bodies = await asyncio.gather(
            *(
                graphql(
                    client,
                    CUSTOMER_SIGN_IN,
                    {"input": {"email": "kari@example.com", "password": f"guess {i:03d}"}},
                )
                for i in range(24)
            )
        )
    codes = [b["data"]["customerSignIn"]["errors"][0]["code"] for b in bodies]  # type: ignore[index]
    verified = codes.count("UNAUTHORIZED")
    assert codes.count("RATE_LIMITED") == 24 - verified
    assert verified == 4
    assert await failures(db, "signin:email:") == verified


async def test_a_burst_of_image_url_guesses_gets_at_most_the_limit_answered(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path, auth_failure_limit=5) as client:
        responses = await asyncio.gather(
            *(client.get(f"/handoff/{wrong_code(i).replace('-', '')}.svg") for i in range(30))
        )
    statuses = [r.status_code for r in responses]
    answered = statuses.count(404)
    assert statuses.count(429) == 30 - answered
    assert answered == 5
    assert await failures(db, "handoff-image:") == answered
