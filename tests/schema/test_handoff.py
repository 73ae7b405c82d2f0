"""Kiosk handoff: codes and their images, claims by devices only, expiry, reuse, rate limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from server.db import Database
from server.models import CartClaim, CartHandoff, utcnow
from server.tokens import HANDOFF_ALPHABET
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.documents import ADD_LINES, CART, CUSTOMER_SIGN_IN
from tests.rows import add_device, add_product, add_store, fresh_ean13

CREATE = """
mutation Handoff($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code expiresAt barcodeUrl qrUrl errors { code field } }
}
"""
CLAIM = """
mutation Claim($input: CartHandoffClaimInput!) {
  cartHandoffClaim(input: $input) {
    cart { id version lines { quantity } customer { email } } errors { code field message }
  }
}
"""
CODE = re.compile(f"^[{HANDOFF_ALPHABET}]{{4}}-[{HANDOFF_ALPHABET}]{{4}}$")


async def handoff(client, cart_id, reach):  # type: ignore[no-untyped-def]
    body = await graphql(client, CREATE, {"input": {"cartId": cart_id}}, reach)
    return body["data"]["cartHandoffCreate"]


async def claim(client, code, device):  # type: ignore[no-untyped-def]
    body = await graphql(client, CLAIM, {"input": {"code": code}}, device)
    return body["data"]["cartHandoffClaim"]


def kiosk_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_code_is_short_readable_single_use_and_lives_ten_minutes(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        before = utcnow()
        issued = await handoff(client, cart_id, reach)
    assert issued["errors"] == []
    assert CODE.match(issued["code"]), issued["code"]
    expires = datetime.fromisoformat(issued["expiresAt"])
    assert timedelta(minutes=10) <= expires - before < timedelta(minutes=10, seconds=5)
    plain = issued["code"].replace("-", "")
    assert issued["barcodeUrl"] == f"/handoff/{plain}.svg"
    assert issued["qrUrl"] == f"/handoff/{plain}/qr.svg"
    async with db.transaction(write=False) as session:
        stored = (await session.execute(select(CartHandoff.code_hash))).scalar_one()
    assert plain not in stored and len(stored) == 64


async def test_code_images_are_served_and_never_cached(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        issued = await handoff(client, cart_id, reach)
        barcode = await client.get(issued["barcodeUrl"])
        barcode_png = await client.get(issued["barcodeUrl"].replace(".svg", ".png"))
        qr = await client.get(issued["qrUrl"])
        qr_png = await client.get(issued["qrUrl"].replace(".svg", ".png"))
        typed = await client.get(f"/handoff/{issued['code'].lower()}.svg")
    for response in (barcode, barcode_png, qr, qr_png, typed):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "etag" not in response.headers
    assert barcode.headers["content-type"] == "image/svg+xml" and b"<svg" in barcode.content
    assert qr.headers["content-type"] == "image/svg+xml" and b"<svg" in qr.content
    assert barcode_png.content[:8] == qr_png.content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_unknown_and_used_codes_have_no_image(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        issued = await handoff(client, cart_id, reach)
        await claim(client, issued["code"], kiosk)
        used = await client.get(issued["barcodeUrl"])
        unknown = await client.get("/handoff/ABCDEFGH/qr.png")
        malformed = await client.get("/handoff/0000.svg")
    for response in (used, unknown, malformed):
        assert response.status_code == 404
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {
            "error": {
                "code": "NOT_FOUND",
                "message": "There is no live handoff code here.",
                "field": None,
            }
        }


async def test_a_kiosk_claims_the_cart_and_both_work_on_it(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL", "kiosk"))
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        issued = await handoff(client, cart_id, phone)
        before = await graphql(client, CART, {"id": cart_id}, kiosk)
        claimed = await claim(client, issued["code"].lower().replace("-", " "), kiosk)
        by_kiosk = await graphql(
            client,
            ADD_LINES,
            {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 2}]}},
            kiosk,
        )
        on_phone = await graphql(client, CART, {"id": cart_id}, phone)
    assert before == {"data": {"cart": None}}
    assert claimed["errors"] == []
    assert claimed["cart"] == {"id": cart_id, "version": 1, "lines": [], "customer": None}
    assert by_kiosk["data"]["cartLinesAdd"]["cart"]["version"] == 2
    assert on_phone["data"]["cart"]["lines"] == [{"quantity": 2}]


async def test_a_staff_device_sees_the_customer_of_a_claimed_cart(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    staff = kiosk_headers(await add_device(db, "OSL", "staff"))
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "shopper@example.com")
        cart_id, _ = await new_cart(client, session)
        issued = await handoff(client, cart_id, session)
        claimed = await claim(client, issued["code"], staff)
    assert claimed["cart"]["customer"] == {"email": "shopper@example.com"}


async def test_reused_expired_and_wrong_codes_answer_code_expired(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL"))
    other_kiosk = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        used = await handoff(client, cart_id, phone)
        await claim(client, used["code"], kiosk)
        reused = await claim(client, used["code"], other_kiosk)
        late = await handoff(client, cart_id, phone)
        async with db.transaction() as session:
            await session.execute(
                update(CartHandoff)
                .where(CartHandoff.used_at.is_(None))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = await claim(client, late["code"], other_kiosk)
        wrong = await claim(client, "ZZZZ-ZZZZ", other_kiosk)
        malformed = await claim(client, "0O1IL", other_kiosk)
        replaced = await handoff(client, cart_id, phone)
        newer = await handoff(client, cart_id, phone)
        superseded = await claim(client, replaced["code"], other_kiosk)
        still_hidden = await graphql(client, CART, {"id": cart_id}, other_kiosk)
    message = "This code is wrong, expired or already used; ask for a new one on the phone."
    for refused in (reused, expired, wrong, malformed, superseded):
        assert refused == {
            "cart": None,
            "errors": [{"code": "CODE_EXPIRED", "field": "code", "message": message}],
        }
    assert newer["errors"] == []
    assert still_hidden == {"data": {"cart": None}}


async def test_only_devices_may_claim(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        issued = await handoff(client, cart_id, phone)
        customer = await sign_up(client, "curious@example.com")
        as_customer = await claim(client, issued["code"], customer)
        as_guest = await claim(client, issued["code"], phone)
        anonymous = await claim(client, issued["code"], {})
        forged = await claim(client, issued["code"], kiosk_headers("dv_forged"))
        still_valid = await claim(
            client, issued["code"], kiosk_headers(await add_device(db, "OSL"))
        )
    for refused in (as_customer, as_guest, anonymous, forged):
        assert refused["cart"] is None
        assert [e["code"] for e in refused["errors"]] == ["UNAUTHORIZED"]
    # Refusing the caller did not use the code up.
    assert still_valid["errors"] == []


async def test_a_revoked_device_can_no_longer_claim_or_read(db: Database, tmp_path: Path) -> None:
    from server.accounts import revoke_device

    await add_store(db, "OSL")
    token = await add_device(db, "OSL")
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        await claim(client, (await handoff(client, cart_id, phone))["code"], kiosk_headers(token))
        async with db.transaction() as session:
            await revoke_device(session, 1, utcnow())
        read = await graphql(client, CART, {"id": cart_id}, kiosk_headers(token))
        again = await claim(
            client, (await handoff(client, cart_id, phone))["code"], kiosk_headers(token)
        )
    assert read == {"data": {"cart": None}}
    assert again["errors"][0]["code"] == "UNAUTHORIZED"


async def test_only_the_holder_issues_codes(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        await claim(client, (await handoff(client, cart_id, phone))["code"], kiosk)
        by_kiosk = await handoff(client, cart_id, kiosk)
        by_stranger = await handoff(client, cart_id, {})
    for refused in (by_kiosk, by_stranger):
        assert refused["code"] is None
        assert refused["errors"] == [{"code": "NOT_FOUND", "field": "cartId"}]


async def test_a_claim_lasts_thirty_minutes_and_a_new_claim_ends_the_old(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path) as client:
        first_cart, first_phone = await new_cart(client)
        second_cart, second_phone = await new_cart(client)
        await claim(client, (await handoff(client, first_cart, first_phone))["code"], kiosk)
        async with db.transaction(write=False) as session:
            claim_row = (await session.execute(select(CartClaim))).scalar_one()
        await claim(client, (await handoff(client, second_cart, second_phone))["code"], kiosk)
        first_after = await graphql(client, CART, {"id": first_cart}, kiosk)
        second_now = await graphql(client, CART, {"id": second_cart}, kiosk)
        async with db.transaction() as session:
            await session.execute(update(CartClaim).values(expires_at=utcnow()))
        second_later = await graphql(client, CART, {"id": second_cart}, kiosk)
        phone_keeps = await graphql(client, CART, {"id": second_cart}, second_phone)
    assert claim_row.expires_at - claim_row.created_at == timedelta(minutes=30)
    assert first_after == {"data": {"cart": None}}
    assert second_now["data"]["cart"]["id"] == second_cart
    assert second_later == {"data": {"cart": None}}
    assert phone_keeps["data"]["cart"]["id"] == second_cart


async def test_bad_claims_are_rate_limited_per_device_and_address(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    guesser = kiosk_headers(await add_device(db, "OSL"))
    neighbour = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path, auth_failure_limit=5) as client:
        cart_id, phone = await new_cart(client)
        guesses = [await claim(client, f"ZZZZ-ZZZ{c}", guesser) for c in "23456"]
        issued = await handoff(client, cart_id, phone)
        right_code = await claim(client, issued["code"], guesser)
        # The neighbouring kiosk calls from the same address, which has used up its budget too.
        from_same_address = await claim(client, issued["code"], neighbour)
        image = await client.get(issued["barcodeUrl"])
    assert [g["errors"][0]["code"] for g in guesses] == ["CODE_EXPIRED"] * 5
    assert [e["code"] for e in right_code["errors"]] == ["RATE_LIMITED"]
    assert [e["code"] for e in from_same_address["errors"]] == ["RATE_LIMITED"]
    # The code itself was not used up by the refused claims.
    assert image.status_code == 200


async def test_guessing_through_the_image_urls_is_rate_limited(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path, auth_failure_limit=3) as client:
        misses = [(await client.get(f"/handoff/ZZZZZZZ{c}.svg")).status_code for c in "234"]
        limited = await client.get("/handoff/ZZZZZZZ5.svg")
    assert misses == [404, 404, 404]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.headers["cache-control"] == "no-store"


async def test_signing_in_ends_the_guest_carts_codes_and_claims(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    kiosk = kiosk_headers(await add_device(db, "OSL"))
    async with client_for(db, tmp_path) as client:
        await sign_up(client, "later@example.com")
        customer_cart, _ = await new_cart(client, await sign_up(client, "owner@example.com"))
        guest_id, phone = await new_cart(client)
        await claim(client, (await handoff(client, guest_id, phone))["code"], kiosk)
        pending = await handoff(client, guest_id, phone)
        body = await graphql(
            client,
            CUSTOMER_SIGN_IN,
            {
                "input": {
                    "email": "owner@example.com",
                    "password": "correct horse battery",
                    "cartId": guest_id,
                }
            },
            phone,
        )
        kiosk_view = await graphql(client, CART, {"id": guest_id}, kiosk)
        late_claim = await claim(client, pending["code"], kiosk)
    assert body["data"]["customerSignIn"]["errors"] == []
    assert customer_cart != guest_id
    assert kiosk_view == {"data": {"cart": None}}
    assert late_claim["errors"][0]["code"] == "CODE_EXPIRED"
