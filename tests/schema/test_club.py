"""The club over GraphQL: joining, consents, purchases, the kiosk's view, export and deletion."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from schema.ids import decode_id
from server.club.numbers import normalise_member_number
from server.db import Database
from server.models import Order
from tests.clients import client_for, collect_at, graphql, place_order, sign_up, staff_sign_in
from tests.rows import add_device, add_product, add_staff, fresh_ean13, store_with_product
from tests.stock_helpers import movement, record

PASSWORD = "correct horse battery"
SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) {
    token customer { membership { number points } } errors { code field }
  }
}
"""
JOIN = """
mutation Join($input: ClubJoinInput!) {
  clubJoin(input: $input) {
    membership { number points consents { kind active } } errors { code field }
  }
}
"""
PURCHASES = """
query Purchases($first: Int, $after: String) {
  me { purchases(first: $first, after: $after) {
    edges { cursor node {
      __typename ... on Order { number } ... on Receipt { number total { amount } }
    } }
    pageInfo { hasNextPage }
  } }
}
"""
STAFF_SEARCH = "query S($q: String!) { customerSearch(query: $q) { customer { email } } }"
KIOSK = "query Kiosk($code: String!) { memberAtKiosk(code: $code) { firstName points } }"
ME_POINTS = "{ me { membership { number points } } }"
EXPORT = "{ customerDataExport }"
DELETE = """
mutation Delete($email: String!) {
  customerDelete(input: {email: $email}) { deleted ordersKept errors { code field } }
}
"""


def luhn_valid(number: str) -> bool:
    """Tell whether the digits pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


async def member(client, email, phone="+47 912 34 567", name="Kari Nordmann"):  # type: ignore[no-untyped-def]
    variables = {
        "input": {
            "email": email, "password": PASSWORD, "name": name, "phone": phone,
            "joinClub": True, "consents": {"clubTerms": True, "marketingSms": True},
        }
    }  # fmt: skip
    body = await graphql(client, SIGN_UP, variables)
    payload = body["data"]["customerSignUp"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return {"Authorization": f"Bearer {payload['token']}"}, payload["customer"]["membership"]


async def test_signing_up_with_join_club_gives_a_luhn_member_number_and_no_points(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        _, membership = await member(client, "kari@example.com")
    assert membership["points"] == 0
    assert len(membership["number"]) == 10 and luhn_valid(membership["number"])
    assert normalise_member_number(membership["number"]) == membership["number"]


async def test_joining_without_the_terms_is_invalid_input_on_the_terms(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        shopper = await sign_up(client, "ola@example.com")
        body = await graphql(client, JOIN, {"input": {"consents": {"clubTerms": False}}}, shopper)
        assert body["data"]["clubJoin"] == {  # type: ignore[index]
            "membership": None,
            "errors": [{"code": "INVALID_INPUT", "field": "consents.clubTerms"}],
        }
        body = await graphql(client, JOIN, {"input": {"consents": {"clubTerms": True}}}, shopper)
        joined = body["data"]["clubJoin"]  # type: ignore[index]
        assert joined["errors"] == []
        assert joined["membership"]["consents"] == [{"kind": "CLUB_TERMS", "active": True}]
        again = await graphql(client, JOIN, {"input": {"consents": {"clubTerms": True}}}, shopper)
        assert again["data"]["clubJoin"]["errors"] == [{"code": "CONFLICT", "field": "consents"}]  # type: ignore[index]


async def test_purchases_are_newest_first_across_orders_and_till_receipts_paged(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10, price=10000)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        kari, _ = await member(client, "kari@example.com")
        order, _ = await place_order(client, [(code, 1)], collect_at(store_id), kari)
        # The sale happened a minute ago, before the order: the order is newest.
        sale = movement(code, store_id, "SALE", 2, receiptNumber="R-77", customerPhone="91234567")
        assert (await record(client, till, [sale]))["errors"] == []
        first = await graphql(client, PURCHASES, {"first": 1}, kari)
        page = first["data"]["me"]["purchases"]  # type: ignore[index]
        assert [e["node"] for e in page["edges"]] == [
            {"__typename": "Order", "number": order["number"]}
        ]
        assert page["pageInfo"] == {"hasNextPage": True}
        after = page["edges"][0]["cursor"]
        second = await graphql(client, PURCHASES, {"first": 1, "after": after}, kari)
        page = second["data"]["me"]["purchases"]  # type: ignore[index]
        assert [e["node"] for e in page["edges"]] == [
            {"__typename": "Receipt", "number": "R-77", "total": {"amount": 20000}}
        ]
        assert page["pageInfo"] == {"hasNextPage": False}


ORDER_CUSTOMER = """
query OrderCustomer($id: ID!) {
  order(id: $id) { customer {
    id email membership { number }
    purchases { edges { node { __typename ... on Order { customer { email } } } } }
  } }
  me { id }
}
"""


async def test_an_orders_customer_is_the_whole_customer_with_membership_and_purchases(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10, price=10000)
    async with client_for(db, tmp_path) as client:
        kari, membership = await member(client, "kari@example.com")
        order, _ = await place_order(client, [(code, 1)], collect_at(store_id), kari)
        body = await graphql(client, ORDER_CUSTOMER, {"id": order["id"]}, kari)
    assert "errors" not in body, body
    customer = body["data"]["order"]["customer"]  # type: ignore[index]
    assert customer["id"] == body["data"]["me"]["id"]  # type: ignore[index]
    assert customer["email"] == "kari@example.com"
    assert customer["membership"] == {"number": membership["number"]}
    assert customer["purchases"]["edges"] == [
        {"node": {"__typename": "Order", "customer": {"email": "kari@example.com"}}}
    ]


async def test_the_kiosk_sees_first_name_and_points_and_a_shopper_is_refused(
    db: Database, tmp_path: Path
) -> None:
    await store_with_product(db, "OSL")
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    async with client_for(db, tmp_path) as client:
        kari, membership = await member(client, "kari@example.com")
        for code in (membership["number"], "912 34 567"):
            body = await graphql(client, KIOSK, {"code": code}, kiosk)
            assert body == {"data": {"memberAtKiosk": {"firstName": "Kari", "points": 0}}}
        refused = await graphql(client, KIOSK, {"code": membership["number"]}, kari)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"  # type: ignore[index]


async def test_kiosk_guesses_are_rate_limited(db: Database, tmp_path: Path) -> None:
    await store_with_product(db, "OSL")
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        codes = []
        for guess in ("1000000009", "1000000017", "1000000025", "1000000033"):
            body = await graphql(client, KIOSK, {"code": guess}, kiosk)
            codes.append(body["errors"][0]["extensions"]["code"])  # type: ignore[index]
    assert codes == ["NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "RATE_LIMITED"]


async def test_a_till_sale_with_the_members_phone_earns_points_once_on_replay(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10, price=10000)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        kari, _ = await member(client, "kari@example.com")
        sale = movement(code, store_id, "SALE", 3, receiptNumber="R-1", customerPhone="91234567")
        assert (await record(client, till, [sale]))["applied"] == 1
        assert (await record(client, till, [sale]))["replayed"] == 1
        body = await graphql(client, ME_POINTS, None, kari)
    # 300 kr at 1 point per 10 kr.
    assert body["data"]["me"]["membership"]["points"] == 30  # type: ignore[index]


RECEIPTS = """
{ me {
  membership { points }
  purchases { edges { node {
    ... on Receipt { number total { amount } lines { name quantity } }
  } } }
} }
"""


async def test_a_receipt_in_three_batches_earns_on_the_whole_receipt(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, brunost, _ = await store_with_product(
        db, "OSL", on_hand=10, price=9500, name="Brunost"
    )
    kaffe = fresh_ean13()
    await add_product(db, gtins=[kaffe], name="Kaffe", price=9500, stock={location: (10, 0)})
    till = await add_device(db, "OSL", "pos")
    phone = {"receiptNumber": "R-9", "customerPhone": "91234567"}
    first = [movement(brunost, store_id, "SALE", 1, **phone)]
    # The till names the member on the first batch only, or on every one: both count.
    second = [movement(kaffe, store_id, "SALE", 1, receiptNumber="R-9")]
    third = [movement(brunost, store_id, "SALE", 1, **phone)]
    async with client_for(db, tmp_path) as client:
        kari, _ = await member(client, "kari@example.com")
        for batch in (first, second, third):
            assert (await record(client, till, batch))["applied"] == 1
        assert (await record(client, till, second))["replayed"] == 1
        body = await graphql(client, RECEIPTS, None, kari)
    me = body["data"]["me"]  # type: ignore[index]
    assert [e["node"] for e in me["purchases"]["edges"]] == [
        {
            "number": "R-9",
            "total": {"amount": 28500},
            "lines": [{"name": "Brunost", "quantity": 2}, {"name": "Kaffe", "quantity": 1}],
        }
    ]
    # 285 kr earn 28 points at 1 per 10 kr; batch by batch it would have been 9 + 9 + 9.
    assert me["membership"]["points"] == 28


async def test_a_till_sale_of_a_phone_no_member_has_is_no_member_purchase(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        sale = movement(code, store_id, "SALE", 1, receiptNumber="R-2", customerPhone="40000000")
        result = await record(client, till, [sale])
    assert (result["applied"], result["errors"]) == (1, [])


async def test_the_export_holds_the_members_data(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        kari, membership = await member(client, "kari@example.com")
        body = await graphql(client, EXPORT, None, kari)
        anonymous = await graphql(client, EXPORT)
    exported = body["data"]["customerDataExport"]  # type: ignore[index]
    assert exported["customer"]["email"] == "kari@example.com"
    assert exported["customer"]["phone"] == "+47 912 34 567"
    assert exported["membership"]["number"] == membership["number"]
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"  # type: ignore[index]


async def test_deleting_keeps_the_order_with_personal_fields_erased(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL")
    async with client_for(db, tmp_path) as client:
        kari, _ = await member(client, "kari@example.com")
        order, _ = await place_order(client, [(code, 1)], collect_at(store_id), kari)
        wrong = await graphql(client, DELETE, {"email": "other@example.com"}, kari)
        assert wrong["data"]["customerDelete"]["errors"] == [  # type: ignore[index]
            {"code": "INVALID_INPUT", "field": "email"}
        ]
        body = await graphql(client, DELETE, {"email": "Kari@example.com"}, kari)
        assert body["data"]["customerDelete"] == {  # type: ignore[index]
            "deleted": True, "ordersKept": 1, "errors": [],
        }  # fmt: skip
        me = await graphql(client, "{ me { email } }", None, kari)
    assert me == {"data": {"me": None}}
    async with db.transaction(write=False) as session:
        kept = await session.get(Order, decode_id(order["id"], "Order"))
    assert kept is not None
    assert (kept.customer_id, kept.cart_token_hash) == (None, None)


async def test_member_card_images_draw_any_valid_number_and_are_never_cached(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        _, membership = await member(client, "kari@example.com")
        number = membership["number"]
        images = [
            await client.get(f"/members/{number}.svg"),
            await client.get(f"/members/{number}.png"),
            await client.get(f"/members/{number}/qr.svg"),
            await client.get(f"/members/{number}/qr.png"),
            await client.get("/members/1000000008.svg"),  # valid, nobody's: still drawn
        ]
        wrong_digit = await client.get(f"/members/{number[:-1]}{(int(number[-1]) + 1) % 10}.svg")
        wrong_format = await client.get(f"/members/{number}.gif")
    for response in images:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
    assert b"<svg" in images[0].content and b"<svg" in images[2].content
    assert images[1].content[:8] == images[3].content[:8] == b"\x89PNG\r\n\x1a\n"
    assert wrong_digit.status_code == 404
    assert wrong_digit.json()["error"]["code"] == "NOT_FOUND"
    assert wrong_digit.headers["cache-control"] == "no-store"
    assert (wrong_format.status_code, wrong_format.json()["error"]["code"]) == (
        400,
        "INVALID_INPUT",
    )


async def test_staff_find_a_customer_by_member_number(db: Database, tmp_path: Path) -> None:
    await store_with_product(db, "OSL")
    await add_staff(db, "ola@shop.no", store_code="OSL")
    async with client_for(db, tmp_path) as client:
        _, membership = await member(client, "kari@example.com", phone=None)
        await member(client, "per@example.com", phone=None, name="Per Hansen")
        staff = await staff_sign_in(client, "ola@shop.no")
        number = membership["number"]
        spaced = f"{number[:4]} {number[4:]}"
        found = await graphql(client, STAFF_SEARCH, {"q": spaced}, staff)
    assert found["data"]["customerSearch"] == [{"customer": {"email": "kari@example.com"}}]  # type: ignore[index]


PREFERENCES = """
mutation Prefs($input: CustomerPreferencesUpdateInput!) {
  customerPreferencesUpdate(input: $input) { errors { code field } }
}
"""


async def test_an_order_speaks_the_customers_language_over_the_requests(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "LNG", on_hand=5)
    async with client_for(db, tmp_path) as client:
        english = await sign_up(client, "emma@example.com")
        norwegian = await sign_up(client, "ola@example.com")
        chose = await graphql(client, PREFERENCES, {"input": {"language": "en"}}, english)
        for headers in (english, norwegian):
            asked_nb = headers | {"Accept-Language": "nb-NO,nb;q=0.9"}
            await place_order(client, [(code, 1)], collect_at(store_id), asked_nb)
    async with db.transaction(write=False) as session:
        languages = (
            (await session.execute(select(Order.language).order_by(Order.id))).scalars().all()
        )
    assert chose["data"]["customerPreferencesUpdate"]["errors"] == []
    assert list(languages) == ["en", "nb"]
