"""Customers: sign up, sign in (merging the guest cart, also under races), sign out, ``me``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from schema.ids import encode_id
from server.db import Database
from server.models import Cart, CustomerSession
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.documents import ADD_LINES
from tests.rows import add_product, fresh_ean13

PASSWORD = "correct horse battery"
SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) {
    token customer { email name } cart { id version lines { quantity } }
    errors { code field message }
  }
}
"""
SIGN_IN = """
mutation SignIn($input: CustomerSignInInput!) {
  customerSignIn(input: $input) {
    token expiresAt customer { id email } errors { code field message }
    cart { id version lines { quantity product { name } } }
  }
}
"""
SIGN_OUT = "mutation { customerSignOut { endedSessions errors { code } } }"
ME = "{ me { id email cart { id version } } }"
CART = "query Cart($id: ID!) { cart(id: $id) { id version lines { quantity product { name } } } }"


async def sign_in(client, email, password=PASSWORD, cart_id=None, headers=None):  # type: ignore[no-untyped-def]
    variables = {"input": {"email": email, "password": password, "cartId": cart_id}}
    return (await graphql(client, SIGN_IN, variables, headers))["data"]["customerSignIn"]


async def fill(client, cart_id, reach, lines):  # type: ignore[no-untyped-def]
    variables = {
        "input": {"cartId": cart_id, "lines": [{"gtin": g, "quantity": q} for g, q in lines]}
    }
    body = await graphql(client, ADD_LINES, variables, reach)
    assert body["data"]["cartLinesAdd"]["errors"] == [], body


def bearer(payload: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {payload['token']}"}


async def test_sign_up_then_sign_in_with_any_case_of_the_email(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        up = await graphql(
            client,
            SIGN_UP,
            {"input": {"email": " Kari@Example.COM ", "password": PASSWORD, "name": "Kari"}},
        )
        signed_in = await sign_in(client, "KARI@example.com")
        me = await graphql(client, ME, headers=bearer(signed_in))
    payload = up["data"]["customerSignUp"]
    assert payload["errors"] == []
    assert payload["customer"] == {"email": "kari@example.com", "name": "Kari"}
    assert payload["token"].startswith("cs_")
    assert signed_in["errors"] == [] and signed_in["token"] != payload["token"]
    assert me["data"]["me"]["email"] == "kari@example.com"
    async with db.transaction(write=False) as session:
        hashes = (await session.execute(select(CustomerSession.token_hash))).scalars().all()
    assert len(hashes) == 2 and payload["token"] not in hashes


async def test_a_wrong_password_and_an_unknown_email_answer_alike(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "known@example.com")
        wrong = await sign_in(client, "known@example.com", "wrong password")
        unknown = await sign_in(client, "nobody@example.com", "wrong password")
    assert (
        wrong
        == unknown
        == {
            "token": None,
            "expiresAt": None,
            "customer": None,
            "cart": None,
            "errors": [
                {
                    "code": "UNAUTHORIZED",
                    "field": None,
                    "message": "The email or password is wrong.",
                }
            ],
        }
    )


async def test_repeated_failed_sign_ins_are_rate_limited(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        await sign_up(client, "target@example.com")
        failures = [await sign_in(client, "target@example.com", f"guess {i}") for i in range(3)]
        right_password = await sign_in(client, "target@example.com")
    assert [f["errors"][0]["code"] for f in failures] == ["UNAUTHORIZED"] * 3
    assert right_password["token"] is None
    assert right_password["errors"][0]["code"] == "RATE_LIMITED"


async def test_signing_up_twice_with_one_email_is_a_conflict(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "twice@example.com")
        again = await graphql(
            client, SIGN_UP, {"input": {"email": "TWICE@example.com", "password": PASSWORD}}
        )
        short = await graphql(
            client, SIGN_UP, {"input": {"email": "x@example.com", "password": "short"}}
        )
        bad = await graphql(
            client, SIGN_UP, {"input": {"email": "not-an-email", "password": PASSWORD}}
        )
    assert again["data"]["customerSignUp"]["errors"][0]["code"] == "CONFLICT"
    assert short["data"]["customerSignUp"]["errors"][0]["field"] == "password"
    assert bad["data"]["customerSignUp"]["errors"][0]["field"] == "email"


async def test_sign_out_ends_the_session(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "out@example.com")
        other_device = bearer(await sign_in(client, "out@example.com"))
        out = await graphql(client, SIGN_OUT, headers=session)
        me_after = await graphql(client, ME, headers=session)
        other_after = await graphql(client, ME, headers=other_device)
        anonymous = await graphql(client, SIGN_OUT)
    assert out["data"]["customerSignOut"] == {"endedSessions": 1, "errors": []}
    assert me_after == {"data": {"me": None}}
    assert other_after["data"]["me"]["email"] == "out@example.com"
    assert anonymous["data"]["customerSignOut"]["errors"] == [{"code": "UNAUTHORIZED"}]


async def test_signing_up_keeps_the_guest_cart_and_retires_its_token(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Brød")
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        await fill(client, cart_id, reach, [(code, 2)])
        up = await graphql(
            client,
            SIGN_UP,
            {"input": {"email": "new@example.com", "password": PASSWORD, "cartId": cart_id}},
            reach,
        )
        session = bearer(up["data"]["customerSignUp"])
        by_token = await graphql(client, CART, {"id": cart_id}, reach)
        by_session = await graphql(client, CART, {"id": cart_id}, session)
    assert up["data"]["customerSignUp"]["cart"] == {
        "id": cart_id,
        "version": 3,
        "lines": [{"quantity": 2}],
    }
    assert by_token == {"data": {"cart": None}}
    assert by_session["data"]["cart"]["lines"] == [{"quantity": 2, "product": {"name": "Brød"}}]


async def test_signing_in_merges_the_guest_cart_by_the_documented_rules(
    db: Database, tmp_path: Path
) -> None:
    milk, bread, eggs = fresh_ean13(), fresh_ean13(), fresh_ean13()
    for code, name in ((milk, "Melk"), (bread, "Brød"), (eggs, "Egg")):
        await add_product(db, gtins=[code], name=name)
    async with client_for(db, tmp_path) as client:
        desktop = await sign_up(client, "merge@example.com")
        own_id, _ = await new_cart(client, desktop)
        await fill(client, own_id, desktop, [(milk, 95), (bread, 1)])
        guest_id, phone = await new_cart(client)
        await fill(client, guest_id, phone, [(milk, 10), (eggs, 12)])
        merged = await sign_in(client, "merge@example.com", cart_id=guest_id, headers=phone)
        guest_after = await graphql(client, CART, {"id": guest_id}, phone)
        guest_change = await graphql(
            client,
            ADD_LINES,
            {"input": {"cartId": guest_id, "lines": [{"gtin": eggs, "quantity": 1}]}},
            phone,
        )
        desktop_view = await graphql(client, CART, {"id": own_id}, desktop)
    assert merged["errors"] == []
    cart = merged["cart"]
    assert cart["id"] == own_id and cart["version"] == 3
    # Same product adds up, capped at 99; new products follow the existing lines.
    assert [(line["product"]["name"], line["quantity"]) for line in cart["lines"]] == [
        ("Melk", 99),
        ("Brød", 1),
        ("Egg", 12),
    ]
    assert desktop_view["data"]["cart"] == cart
    assert guest_after == {"data": {"cart": None}}
    assert guest_change["data"]["cartLinesAdd"]["errors"] == [{"code": "NOT_FOUND"}]
    async with db.transaction(write=False) as session:
        guest = await session.get(Cart, int(decode_pk(guest_id)))
        assert guest is not None
        assert (guest.status, guest.merged_into_id, guest.version) == (
            "merged",
            int(decode_pk(own_id)),
            3,
        )


def decode_pk(global_id: str) -> str:
    from schema.ids import decode_any_id

    return decode_any_id(global_id)[1]


async def test_a_cart_the_caller_cannot_prove_fails_the_whole_sign_in(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "careful@example.com")
        other = await sign_up(client, "other@example.com")
        guest_id, phone = await new_cart(client)
        others_cart, _ = await new_cart(client, other)
        no_token = await sign_in(client, "careful@example.com", cart_id=guest_id)
        wrong = await sign_in(
            client, "careful@example.com", cart_id=guest_id, headers={"X-Cart-Token": "ct_wrong"}
        )
        foreign = await sign_in(client, "careful@example.com", cart_id=others_cart, headers=phone)
        missing = await sign_in(
            client, "careful@example.com", cart_id=encode_id("Cart", 999), headers=phone
        )
    for refused in (no_token, wrong, foreign, missing):
        assert refused["token"] is None
        assert refused["errors"] == [
            {"code": "NOT_FOUND", "field": "cartId", "message": "There is no such cart."}
        ]
    async with db.transaction(write=False) as session:
        sessions = (await session.execute(select(func.count(CustomerSession.id)))).scalar_one()
    assert sessions == 2  # the two sign-ups only


async def test_a_repeated_sign_in_with_the_merged_cart_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        desktop = await sign_up(client, "again@example.com")
        own_id, _ = await new_cart(client, desktop)
        guest_id, phone = await new_cart(client)
        await fill(client, guest_id, phone, [(code, 3)])
        first = await sign_in(client, "again@example.com", cart_id=guest_id, headers=phone)
        second = await sign_in(client, "again@example.com", cart_id=guest_id, headers=phone)
    assert first["errors"] == second["errors"] == []
    assert second["cart"] == first["cart"]
    assert first["cart"]["lines"][0]["quantity"] == 3


async def test_two_devices_signing_in_at_once_neither_lose_nor_duplicate_lines(
    db: Database, tmp_path: Path
) -> None:
    codes = [fresh_ean13() for _ in range(4)]
    for code in codes:
        await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "race@example.com")
        for round_ in range(3):
            # Phone and tablet each hold a guest cart; one product is in both.
            phone_cart, phone = await new_cart(client)
            tablet_cart, tablet = await new_cart(client)
            await fill(client, phone_cart, phone, [(codes[0], 1), (codes[1], 2)])
            await fill(client, tablet_cart, tablet, [(codes[0], 3), (codes[2], 4)])
            results = await asyncio.gather(
                sign_in(client, "race@example.com", cart_id=phone_cart, headers=phone),
                sign_in(client, "race@example.com", cart_id=tablet_cart, headers=tablet),
            )
            assert [r["errors"] for r in results] == [[], []]
            me = await graphql(client, ME, headers=bearer(results[0]))
            cart = await graphql(
                client, CART, {"id": me["data"]["me"]["cart"]["id"]}, bearer(results[0])
            )
            quantities = [line["quantity"] for line in cart["data"]["cart"]["lines"]]
            per_round = 4
            assert sorted(quantities) == sorted(
                [min(99, per_round * (round_ + 1)), 2 * (round_ + 1), 4 * (round_ + 1)]
            ), quantities
    async with db.transaction(write=False) as session:
        active = (
            await session.execute(select(func.count(Cart.id)).where(Cart.status == "active"))
        ).scalar_one()
    assert active == 1


async def test_one_customer_never_sees_another_customers_cart_or_account(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        alice = await sign_up(client, "alice@example.com")
        bob = await sign_up(client, "bob@example.com")
        alice_cart, _ = await new_cart(client, alice)
        alice_me = await graphql(client, ME, headers=alice)
        seen_by_bob = await graphql(client, CART, {"id": alice_cart}, bob)
        node_by_bob = await graphql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": alice_me["data"]["me"]["id"]},
            bob,
        )
        node_by_alice = await graphql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": alice_me["data"]["me"]["id"]},
            alice,
        )
    assert seen_by_bob == {"data": {"cart": None}}
    assert node_by_bob == {"data": {"node": None}}
    assert node_by_alice == {"data": {"node": {"id": alice_me["data"]["me"]["id"]}}}
