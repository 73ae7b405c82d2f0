"""Password hashing follows ``OMNICART_PASSWORD_HASH_PROFILE``; a changed profile moves hashes.

Stored Argon2id hashes carry their own parameters, so a shop that changes the profile keeps
every password valid, and each is hashed again with the new profile at its next sign-in
(customers and staff alike). The default is argon2-cffi's own (RFC 9106 low memory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from server.config import Settings
from server.db import Database
from server.models import Customer, StaffUser
from tests.clients import client_for, graphql, sign_up, staff_sign_in
from tests.documents import CUSTOMER_SIGN_IN
from tests.rows import STAFF_PASSWORD, add_staff, add_store

PASSWORD = "correct horse battery"
CHEAPEST = "$argon2id$v=19$m=8,t=1,p=1$"
LOW_MEMORY = "$argon2id$v=19$m=65536,t=3,p=4$"


async def customer_hash(db: Database, email: str) -> str:
    async with db.transaction(write=False) as session:
        stored = await session.scalar(select(Customer.password_hash).where(Customer.email == email))
    assert stored is not None
    return stored


async def staff_hash(db: Database, email: str) -> str:
    async with db.transaction(write=False) as session:
        stored = await session.scalar(
            select(StaffUser.password_hash).where(StaffUser.email == email)
        )
    assert stored is not None
    return stored


async def sign_in(db: Database, tmp_path: Path, email: str, password: str, **settings: str):  # type: ignore[no-untyped-def]
    async with client_for(db, tmp_path, **settings) as client:
        variables = {"input": {"email": email, "password": password}}
        body = await graphql(client, CUSTOMER_SIGN_IN, variables)
    return body["data"]["customerSignIn"]  # type: ignore[index]


def test_the_default_profile_is_argon2_cffis_rfc_9106_low_memory() -> None:
    assert Settings().password_hash_profile == "rfc9106-low-memory"


def test_an_unknown_profile_stops_the_settings_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(password_hash_profile="md5")  # type: ignore[arg-type]
    assert "rfc9106-low-memory" in str(raised.value)
    assert "cheapest-for-tests" in str(raised.value)


async def test_a_customer_hashed_cheaply_signs_in_under_the_default_and_is_hashed_anew(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:  # the tests' cheapest profile
        await sign_up(client, "kari@example.com", PASSWORD)
    assert (await customer_hash(db, "kari@example.com")).startswith(CHEAPEST)

    wrong = await sign_in(
        db,
        tmp_path,
        "kari@example.com",
        "not the password",
        password_hash_profile="rfc9106-low-memory",
    )
    assert [e["code"] for e in wrong["errors"]] == ["UNAUTHORIZED"]
    assert (await customer_hash(db, "kari@example.com")).startswith(CHEAPEST)  # untouched

    right = await sign_in(
        db, tmp_path, "kari@example.com", PASSWORD, password_hash_profile="rfc9106-low-memory"
    )
    assert right["errors"] == []
    assert (await customer_hash(db, "kari@example.com")).startswith(LOW_MEMORY)
    again = await sign_in(db, tmp_path, "kari@example.com", PASSWORD)  # and back: still valid
    assert again["errors"] == []
    assert (await customer_hash(db, "kari@example.com")).startswith(CHEAPEST)


async def test_a_staff_member_is_hashed_anew_with_the_profile_at_sign_in(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    await add_staff(db, "ola@shop.no", store_code="OSL")
    assert (await staff_hash(db, "ola@shop.no")).startswith(CHEAPEST)
    async with client_for(db, tmp_path, password_hash_profile="rfc9106-low-memory") as client:
        await staff_sign_in(client, "ola@shop.no", STAFF_PASSWORD)
    assert (await staff_hash(db, "ola@shop.no")).startswith(LOW_MEMORY)
