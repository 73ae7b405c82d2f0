"""Staff tablets: signing in, looking customers up (audited), and the admins' audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from schema.ids import encode_id
from server.db import Database
from server.models import StaffAuditEntry, StaffSession
from tests.clients import client_for, collect_at, graphql, place_order, staff_sign_in
from tests.documents import CART_CREATE, SIGN_UP
from tests.rows import (
    STAFF_PASSWORD,
    add_device,
    add_online_warehouse,
    add_product,
    add_staff,
    add_store,
    fresh_ean13,
)

SIGN_IN = """
mutation SignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) {
    token expiresAt staff { name email role store { code } } errors { code message }
  }
}
"""
STAFF_ME = "{ staffMe { name role store { code } } }"
SIGN_OUT = "mutation { staffSignOut { endedSessions errors { code } } }"
SEARCH = """
query Search($q: String!) {
  customerSearch(query: $q) {
    customer { email name phone }
    cart { lines { quantity product { name } } }
    orders { edges { node { number status } } }
    purchaseHistory { name units orders product { name } }
  }
}
"""
ONE = "query One($id: ID!) { staffCustomer(id: $id) { customer { email } } }"
AUDIT = """
query Audit($action: String, $first: Int, $after: String) {
  staffAudit(action: $action, first: $first, after: $after) {
    entries { action subjectId details staff { email } store { code } deviceId }
    pageInfo { hasNextPage endCursor }
  }
}
"""
READY = """
mutation Ready($input: OrderActionInput!) {
  r: orderMarkReady(input: $input) { errors { code } }
}
"""
COLLECT = """
mutation Collect($input: OrderActionInput!) {
  c: orderMarkCollected(input: $input) { errors { code } }
}
"""


async def customer(client, email, name, phone):  # type: ignore[no-untyped-def]
    variables = {
        "input": {"email": email, "password": "customer password", "name": name, "phone": phone}
    }
    token = (await graphql(client, SIGN_UP, variables))["data"]["customerSignUp"]["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_staff_sign_in_with_email_and_password(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    await add_staff(db, "ola@shop.no", store_code="OSL", name="Ola Nordmann")
    async with client_for(db, tmp_path) as client:
        ok = await graphql(
            client, SIGN_IN, {"input": {"email": " OLA@shop.no", "password": STAFF_PASSWORD}}
        )
        payload = ok["data"]["staffSignIn"]
        session = {"Authorization": f"Bearer {payload['token']}"}
        me = await graphql(client, STAFF_ME, headers=session)
        wrong = await graphql(
            client, SIGN_IN, {"input": {"email": "ola@shop.no", "password": "nope nope"}}
        )
        unknown = await graphql(
            client, SIGN_IN, {"input": {"email": "who@shop.no", "password": STAFF_PASSWORD}}
        )
        out = await graphql(client, SIGN_OUT, headers=session)
        after = await graphql(client, STAFF_ME, headers=session)
    assert payload["errors"] == [] and payload["token"].startswith("ss_")
    assert payload["staff"] == {
        "name": "Ola Nordmann",
        "email": "ola@shop.no",
        "role": "STAFF",
        "store": {"code": "OSL"},
    }
    assert me["data"]["staffMe"] == {
        "name": "Ola Nordmann",
        "role": "STAFF",
        "store": {"code": "OSL"},
    }
    for refused in (wrong, unknown):
        assert refused["data"]["staffSignIn"]["token"] is None
        assert refused["data"]["staffSignIn"]["errors"] == [
            {"code": "UNAUTHORIZED", "message": "The email or password is wrong."}
        ]
    assert out["data"]["staffSignOut"] == {"endedSessions": 1, "errors": []}
    assert after["data"]["staffMe"] is None
    async with db.transaction(write=False) as session_:
        assert (await session_.execute(select(StaffSession.token_hash))).scalars().all() == []


async def test_staff_sign_in_is_rate_limited(db: Database, tmp_path: Path) -> None:
    await add_staff(db, "admin@shop.no", role="admin")
    async with client_for(db, tmp_path, auth_failure_limit=3) as client:
        for _ in range(3):
            await graphql(
                client, SIGN_IN, {"input": {"email": "admin@shop.no", "password": "x" * 8}}
            )
        right = await graphql(
            client, SIGN_IN, {"input": {"email": "admin@shop.no", "password": STAFF_PASSWORD}}
        )
    assert [e["code"] for e in right["data"]["staffSignIn"]["errors"]] == ["RATE_LIMITED"]


async def test_customers_are_found_by_name_email_or_phone_with_cart_orders_and_purchases(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code, other = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[code], name="Brunost", stock={location: (10, 0)})
    await add_product(db, gtins=[other], name="Knekkebrød", stock={location: (10, 0)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    async with client_for(db, tmp_path) as client:
        kari = await customer(client, "kari@example.com", "Kari Nordmann", "+47 912 34 567")
        await customer(client, "per@example.com", "Per Hansen", "22 33 44 55")
        order, _ = await place_order(client, [(code, 2)], collect_at(store_id), kari)
        staff = await staff_sign_in(client, "ola@shop.no")
        await graphql(client, READY, {"input": {"orderId": order["id"]}}, staff)
        await graphql(client, COLLECT, {"input": {"orderId": order["id"]}}, staff)
        await graphql(
            client, CART_CREATE, {"input": {"lines": [{"gtin": other, "quantity": 1}]}}, kari
        )
        by_name = await graphql(client, SEARCH, {"q": "nordm"}, staff)
        by_email = await graphql(client, SEARCH, {"q": "PER@EXAMPLE"}, staff)
        by_phone = await graphql(client, SEARCH, {"q": "91234"}, staff)
        nobody = await graphql(client, SEARCH, {"q": "zz%"}, staff)
        too_short = await graphql(client, SEARCH, {"q": "k"}, staff)
    found = by_name["data"]["customerSearch"]
    assert found == [
        {
            "customer": {
                "email": "kari@example.com",
                "name": "Kari Nordmann",
                "phone": "+47 912 34 567",
            },
            "cart": {"lines": [{"quantity": 1, "product": {"name": "Knekkebrød"}}]},
            "orders": {"edges": [{"node": {"number": order["number"], "status": "COLLECTED"}}]},
            "purchaseHistory": [
                {"name": "Brunost", "units": 2, "orders": 1, "product": {"name": "Brunost"}}
            ],
        }
    ]
    assert [r["customer"]["email"] for r in by_email["data"]["customerSearch"]] == [
        "per@example.com"
    ]
    assert [r["customer"]["email"] for r in by_phone["data"]["customerSearch"]] == [
        "kari@example.com"
    ]
    assert nobody["data"]["customerSearch"] == []
    assert too_short["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "query"}


async def test_customer_lookups_need_a_staff_person_and_are_audited(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    await add_staff(db, "ola@shop.no", store_code="OSL")
    device = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'staff')}"}
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    async with client_for(db, tmp_path) as client:
        kari = await customer(client, "kari@example.com", "Kari", None)
        staff = await staff_sign_in(client, "ola@shop.no")
        refused = [
            await graphql(client, SEARCH, {"q": "kari"}, headers)
            for headers in (kari, kiosk, device, {})
        ]
        found = await graphql(client, SEARCH, {"q": "kari"}, staff)
        one = await graphql(client, ONE, {"id": encode_id("Customer", 1)}, staff)
        by_customer = await graphql(client, ONE, {"id": encode_id("Customer", 1)}, kari)
    for body in refused:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert by_customer["data"] == {"staffCustomer": None}
    assert by_customer["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert len(found["data"]["customerSearch"]) == 1
    assert one["data"]["staffCustomer"] == {"customer": {"email": "kari@example.com"}}
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(
                    StaffAuditEntry.action,
                    StaffAuditEntry.subject_id,
                    StaffAuditEntry.staff_user_id,
                    StaffAuditEntry.details,
                ).order_by(StaffAuditEntry.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("customer.search", 1, 1, {"query": "kari", "found": [1]}),
        ("customer.view", 1, 1, {"found": True}),
    ]


async def test_admins_read_the_audit_trail_and_nobody_else_does(
    db: Database, tmp_path: Path
) -> None:
    online = await add_online_warehouse(db)
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={location: (5, 0), online: (5, 0)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    await add_staff(db, "admin@shop.no", role="admin")
    device = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'staff')}"}
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@shop.no")
        admin = await staff_sign_in(client, "admin@shop.no")
        kari = await customer(client, "kari@example.com", "Kari", None)
        order, _ = await place_order(client, [(code, 1)], collect_at(store_id), kari)
        await graphql(client, READY, {"input": {"orderId": order["id"]}}, device)
        await graphql(client, COLLECT, {"input": {"orderId": order["id"]}}, staff)
        await graphql(client, SEARCH, {"q": "kari"}, staff)
        trail = await graphql(client, AUDIT, {"first": 2}, admin)
        page = trail["data"]["staffAudit"]
        older = await graphql(
            client, AUDIT, {"first": 2, "after": page["pageInfo"]["endCursor"]}, admin
        )
        only = await graphql(client, AUDIT, {"action": "order.mark_ready"}, admin)
        refused = [await graphql(client, AUDIT, {}, h) for h in (staff, device, kari)]
    assert page["entries"] == [
        {
            "action": "customer.search",
            "subjectId": encode_id("Customer", 1),
            "details": {"query": "kari", "found": [1]},
            "staff": {"email": "ola@shop.no"},
            "store": {"code": "OSL"},
            "deviceId": None,
        },
        {
            "action": "order.mark_collected",
            "subjectId": order["id"],
            "details": {"number": order["number"], "from": "ready_for_pickup", "to": "collected"},
            "staff": {"email": "ola@shop.no"},
            "store": {"code": "OSL"},
            "deviceId": None,
        },
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [e["action"] for e in older["data"]["staffAudit"]["entries"]] == ["order.mark_ready"]
    assert older["data"]["staffAudit"]["pageInfo"]["hasNextPage"] is False
    ready = only["data"]["staffAudit"]["entries"]
    assert [(e["staff"], e["deviceId"]) for e in ready] == [(None, encode_id("Device", 1))]
    for body in refused:
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


async def test_staff_see_the_same_product_page_as_shoppers(db: Database, tmp_path: Path) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Brunost", price=8990, stock={location: (4, 1)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    page = """
    query Page($gtin: String!, $storeId: ID) {
      product(gtin: $gtin) {
        name price { current { amount } } availability(storeId: $storeId) { here { available } }
      }
    }
    """
    variables = {"gtin": code, "storeId": encode_id("Store", store_id)}
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@shop.no")
        as_staff = await graphql(client, page, variables, staff)
        as_shopper = await graphql(client, page, variables)
    assert as_staff == as_shopper
    assert as_staff["data"]["product"]["availability"]["here"] == {"available": 3}


SEARCH_WITH_LINES = """
query Search($q: String!) {
  customerSearch(query: $q, first: 50) {
    customer { email }
    cart { version lines { quantity product { name } } }
    orders(first: 5) { edges { node { number lines { quantity } } } pageInfo { hasNextPage } }
    purchaseHistory { units }
  }
}
"""


async def test_a_customer_list_costs_the_same_statements_for_one_customer_or_many(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code, other = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[code], name="Brunost", stock={location: (100, 0)})
    await add_product(db, gtins=[other], name="Knekkebrød", stock={location: (100, 0)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def search(query: str) -> tuple[int, list[dict[str, Any]]]:
        statements.clear()
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            body = await graphql(client, SEARCH_WITH_LINES, {"q": query}, staff)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return len(statements), body["data"]["customerSearch"]

    async with client_for(db, tmp_path) as client:
        names = ["Ane Solberg"] + [f"Kari Nordmann {n}" for n in range(1, 5)]
        for n, name in enumerate(names):
            shopper = await customer(client, f"c{n}@example.com", name, None)
            await place_order(client, [(code, 1)], collect_at(store_id), shopper)
            lines = {"input": {"lines": [{"gtin": other, "quantity": n + 1}]}}
            await graphql(client, CART_CREATE, lines, shopper)
        staff = await staff_sign_in(client, "ola@shop.no")
        one, alone = await search("solberg")
        many, found = await search("nordm")
    assert [r["customer"]["email"] for r in alone] == ["c0@example.com"]
    assert [r["customer"]["email"] for r in found] == [f"c{n}@example.com" for n in range(1, 5)]
    assert [[line["quantity"] for line in r["cart"]["lines"]] for r in found] == [
        [2],
        [3],
        [4],
        [5],
    ]
    assert [len(r["orders"]["edges"]) for r in found] == [1, 1, 1, 1]
    assert many == one


LOOKUP_BESIDE_A_BAD_BARCODE = """
query Lookup($id: ID!) {
  ...Looked
  product(gtin: "12") { name }
}
fragment Looked on Query { ... on Query { staffCustomer(id: $id) { customer { email } } } }
"""


async def test_a_lookup_is_audited_in_the_operations_one_transaction(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    await add_staff(db, "ola@shop.no", store_code="OSL")
    begins: list[object] = []

    def count(conn: Any) -> None:
        begins.append(conn)

    async with client_for(db, tmp_path) as client:
        await customer(client, "kari@example.com", "Kari", None)
        staff = await staff_sign_in(client, "ola@shop.no")
        event.listen(db.engine.sync_engine, "begin", count)
        try:
            found = await graphql(client, SEARCH, {"q": "kari"}, staff)
        finally:
            event.remove(db.engine.sync_engine, "begin", count)
        # Reached through fragments, beside a field that fails: still one write, kept.
        beside = await graphql(
            client, LOOKUP_BESIDE_A_BAD_BARCODE, {"id": encode_id("Customer", 1)}, staff
        )
    assert [r["customer"]["email"] for r in found["data"]["customerSearch"]] == ["kari@example.com"]
    assert len(begins) == 1
    assert beside["data"] == {
        "staffCustomer": {"customer": {"email": "kari@example.com"}},
        "product": None,
    }
    assert [e["extensions"]["code"] for e in beside["errors"]] == ["INVALID_GTIN"]
    async with db.transaction(write=False) as session:
        actions = (
            await session.execute(select(StaffAuditEntry.action).order_by(StaffAuditEntry.id))
        ).scalars()
        assert list(actions) == ["customer.search", "customer.view"]


THIS_DEVICE = "{ thisDevice { kind name store { code name } } }"


async def test_a_device_checks_its_token_and_learns_its_store(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL", name="Oslo Storo")
    await add_staff(db, "ola@shop.no", store_code="OSL")
    kiosk = await add_device(db, "OSL", "kiosk")
    async with client_for(db, tmp_path) as client:
        person = await staff_sign_in(client, "ola@shop.no")
        known = await graphql(client, THIS_DEVICE, headers={"Authorization": f"Bearer {kiosk}"})
        answers = [
            await graphql(client, THIS_DEVICE, headers=headers)
            for headers in ({"Authorization": "Bearer dv_wrong"}, person, {})
        ]
    device = known["data"]["thisDevice"]
    assert (device["kind"], device["store"]) == ("kiosk", {"code": "OSL", "name": "Oslo Storo"})
    assert [answer["data"]["thisDevice"] for answer in answers] == [None, None, None]
