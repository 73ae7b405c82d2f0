"""Carts over GraphQL: lines by barcode or id, quantities, prices when shown, versions, retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from schema.ids import encode_id
from server.db import Database
from server.models import Cart, IdempotencyKey, utcnow
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.rows import add_campaign, add_product, fresh_ean13

CART_FIELDS = """
  id version totalQuantity updatedAt
  subtotal { amount currency }
  lines { id quantity product { name gtin } unitPrice { amount } lineTotal { amount } }
"""
CREATE = f"""
mutation Create($input: CartCreateInput) {{
  cartCreate(input: $input) {{ cart {{ {CART_FIELDS} }} cartToken errors {{ code field }} }}
}}
"""
ADD = f"""
mutation Add($input: CartLinesAddInput!) {{
  cartLinesAdd(input: $input) {{
    cart {{ {CART_FIELDS} }} replayed errors {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation Update($input: CartLinesUpdateInput!) {{
  cartLinesUpdate(input: $input) {{ cart {{ {CART_FIELDS} }} replayed errors {{ code field }} }}
}}
"""
REMOVE = f"""
mutation Remove($input: CartLinesRemoveInput!) {{
  cartLinesRemove(input: $input) {{ cart {{ {CART_FIELDS} }} replayed errors {{ code field }} }}
}}
"""
CART = f"query Cart($id: ID!) {{ cart(id: $id) {{ {CART_FIELDS} }} }}"
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Cart { version } } }"


async def add(client, cart_id, headers, lines, **extra):  # type: ignore[no-untyped-def]
    body = await graphql(
        client, ADD, {"input": {"cartId": cart_id, "lines": lines, **extra}}, headers
    )
    return body["data"]["cartLinesAdd"]


async def test_a_new_cart_is_empty_at_version_one_with_a_token_stored_hashed(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, CREATE)
    payload = body["data"]["cartCreate"]
    assert payload["errors"] == []
    assert payload["cart"]["version"] == 1
    assert payload["cart"]["lines"] == [] and payload["cart"]["subtotal"]["amount"] == 0
    token = payload["cartToken"]
    assert token.startswith("ct_") and len(token) > 40
    async with db.transaction(write=False) as session:
        stored = (await session.execute(select(Cart.token_hash))).scalar_one()
    assert stored != token and token not in stored and len(stored) == 64


async def test_lines_by_barcode_and_by_product_id_add_up_on_one_line(
    db: Database, tmp_path: Path
) -> None:
    product_id = await add_product(db, gtins=["0036000291452"], name="Kleenex", price=2990)
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        first = await add(client, cart_id, reach, [{"gtin": "036000291452", "quantity": 2}])
        second = await add(
            client,
            cart_id,
            reach,
            [{"productId": encode_id("Product", product_id), "quantity": 3}],
        )
    assert first["errors"] == [] and first["cart"]["version"] == 2
    cart = second["cart"]
    assert cart["version"] == 3
    assert [(line["quantity"], line["product"]["name"]) for line in cart["lines"]] == [
        (5, "Kleenex")
    ]
    assert cart["lines"][0]["id"] == first["cart"]["lines"][0]["id"]
    assert cart["lines"][0]["lineTotal"] == {"amount": 5 * 2990}
    assert cart["subtotal"] == {"amount": 5 * 2990, "currency": "NOK"}
    assert cart["totalQuantity"] == 5


async def test_create_with_first_lines(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code], price=1000)
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, CREATE, {"input": {"lines": [{"gtin": code, "quantity": 4}]}})
    cart = body["data"]["cartCreate"]["cart"]
    assert (cart["version"], cart["totalQuantity"], cart["subtotal"]["amount"]) == (2, 4, 4000)


@pytest.mark.parametrize("quantity", [0, -1, 100, 2**31, 10**20])
async def test_quantities_outside_one_to_99_are_invalid_and_change_nothing(
    sqlite_db: Database, tmp_path: Path, quantity: int
) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code])
    async with client_for(sqlite_db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        payload = await add(client, cart_id, reach, [{"gtin": code, "quantity": quantity}])
        after = await graphql(client, CART, {"id": cart_id}, reach)
    assert payload["cart"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_QUANTITY", "lines[0].quantity")
    ]
    assert after["data"]["cart"]["version"] == 1


async def test_an_add_taking_a_line_past_99_is_refused(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        await add(client, cart_id, reach, [{"gtin": code, "quantity": 98}])
        refused = await add(client, cart_id, reach, [{"gtin": code, "quantity": 2}])
        fits = await add(client, cart_id, reach, [{"gtin": code, "quantity": 1}])
    assert refused["errors"][0]["code"] == "INVALID_QUANTITY"
    assert "holds 98" in refused["errors"][0]["message"]
    assert (fits["cart"]["version"], fits["cart"]["lines"][0]["quantity"]) == (3, 99)


async def test_a_fractional_quantity_is_not_a_quantity(sqlite_db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code])
    async with client_for(sqlite_db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        body = await graphql(
            client,
            ADD,
            {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1.5}]}},
            reach,
        )
    assert body["data"] is None
    assert body["errors"][0]["message"] == "A quantity is a whole number of units."
    assert body["errors"][0]["extensions"]["code"] == "INVALID_QUANTITY"


async def test_unknown_and_malformed_barcodes_are_refused(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        unknown = await add(client, cart_id, reach, [{"gtin": fresh_ean13(), "quantity": 1}])
        malformed = await add(client, cart_id, reach, [{"gtin": "7038010009452", "quantity": 1}])
        both = await add(
            client, cart_id, reach, [{"gtin": fresh_ean13(), "productId": "x", "quantity": 1}]
        )
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("NOT_FOUND", "lines[0].gtin")]
    assert [(e["code"], e["field"]) for e in malformed["errors"]] == [
        ("INVALID_GTIN", "lines[0].gtin")
    ]
    assert both["errors"][0]["code"] == "INVALID_INPUT"


async def test_an_own_code_in_the_catalog_adds_its_product_and_a_label_is_refused(
    db: Database, tmp_path: Path
) -> None:
    bread = fresh_ean13("20")
    await add_product(db, gtins=[bread], name="Grovbrød", price=3990)
    await add_product(db, gtins=["2312345000002"], name="Kjøttdeig")  # the label's base code
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        own = await add(client, cart_id, reach, [{"gtin": bread, "quantity": 2}])
        label = await add(
            client,
            cart_id,
            reach,
            [{"gtin": bread, "quantity": 1}, {"gtin": "2312345012340", "quantity": 1}],
        )
    assert [(ln["product"]["name"], ln["quantity"]) for ln in own["cart"]["lines"]] == [
        ("Grovbrød", 2)
    ]
    assert own["errors"] == []
    # A weight label would need its weight on the line, which lines do not carry yet.
    assert label["errors"] == [
        {
            "code": "INVALID_GTIN",
            "field": "lines[1].gtin",
            "message": "The barcode 2312345012340 is one of the chain's own codes that no "
            "product carries, or a price or weight label, which a cart cannot hold yet; add "
            "the product itself.",
        }
    ]
    assert label["cart"] is None


async def test_update_and_remove_lines(db: Database, tmp_path: Path) -> None:
    a, b = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[a], name="A", price=100)
    await add_product(db, gtins=[b], name="B", price=200)
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        added = await add(
            client, cart_id, reach, [{"gtin": a, "quantity": 1}, {"gtin": b, "quantity": 1}]
        )
        line_a, line_b = (line["id"] for line in added["cart"]["lines"])
        updated = await graphql(
            client,
            UPDATE,
            {"input": {"cartId": cart_id, "lines": [{"lineId": line_b, "quantity": 7}]}},
            reach,
        )
        removed = await graphql(
            client, REMOVE, {"input": {"cartId": cart_id, "lineIds": [line_a]}}, reach
        )
        again = await graphql(
            client, REMOVE, {"input": {"cartId": cart_id, "lineIds": [line_a]}}, reach
        )
        zero = await graphql(
            client,
            UPDATE,
            {"input": {"cartId": cart_id, "lines": [{"lineId": line_b, "quantity": 0}]}},
            reach,
        )
    cart = updated["data"]["cartLinesUpdate"]["cart"]
    assert [(line["product"]["name"], line["quantity"]) for line in cart["lines"]] == [
        ("A", 1),
        ("B", 7),
    ]
    assert cart["subtotal"]["amount"] == 100 + 7 * 200
    cart = removed["data"]["cartLinesRemove"]["cart"]
    assert cart["version"] == 4
    assert [line["product"]["name"] for line in cart["lines"]] == ["B"]
    assert again["data"]["cartLinesRemove"]["errors"] == [
        {"code": "NOT_FOUND", "field": "lineIds[0]"}
    ]
    assert zero["data"]["cartLinesUpdate"]["errors"] == [
        {"code": "INVALID_QUANTITY", "field": "lines[0].quantity"}
    ]


async def test_a_stale_expected_version_conflicts_and_carries_the_current_cart(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        await add(client, cart_id, reach, [{"gtin": code, "quantity": 1}], expectedVersion=1)
        stale = await add(
            client, cart_id, reach, [{"gtin": code, "quantity": 5}], expectedVersion=1
        )
        after = await graphql(client, CART, {"id": cart_id}, reach)
    assert [(e["code"], e["field"]) for e in stale["errors"]] == [
        ("VERSION_CONFLICT", "expectedVersion")
    ]
    assert stale["cart"]["version"] == 2
    assert stale["cart"]["lines"][0]["quantity"] == 1
    assert after["data"]["cart"] == stale["cart"]


async def test_a_retry_with_the_same_key_answers_the_first_result_and_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    code, other = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[code])
    await add_product(db, gtins=[other])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        request = {
            "lines": [{"gtin": code, "quantity": 2}],
            "expectedVersion": 1,
            "idempotencyKey": "k-1",
        }
        first = await add(client, cart_id, reach, **request)
        # Another device changes the cart between the request and its retry.
        await add(client, cart_id, reach, [{"gtin": other, "quantity": 1}])
        retry = await add(client, cart_id, reach, **request)
        now = await graphql(client, CART, {"id": cart_id}, reach)
    assert first["errors"] == [] and first["replayed"] is False
    assert retry["errors"] == [] and retry["replayed"] is True
    assert retry["cart"] == first["cart"]
    assert now["data"]["cart"]["version"] == 3
    assert [line["quantity"] for line in now["data"]["cart"]["lines"]] == [2, 1]


async def test_a_key_reused_for_another_request_is_refused(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        await add(client, cart_id, reach, [{"gtin": code, "quantity": 2}], idempotencyKey="k")
        other = await add(
            client, cart_id, reach, [{"gtin": code, "quantity": 3}], idempotencyKey="k"
        )
        line = (await graphql(client, CART, {"id": cart_id}, reach))["data"]["cart"]["lines"][0]
        # Keys are per operation: the same key on an update is a new request.
        update_payload = await graphql(
            client,
            UPDATE,
            {
                "input": {
                    "cartId": cart_id,
                    "lines": [{"lineId": line["id"], "quantity": 9}],
                    "idempotencyKey": "k",
                }
            },
            reach,
        )
    assert [(e["code"], e["field"]) for e in other["errors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    ]
    assert line["quantity"] == 2
    assert update_payload["data"]["cartLinesUpdate"]["cart"]["lines"][0]["quantity"] == 9


async def test_keys_expire_after_a_day(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        await add(client, cart_id, reach, [{"gtin": code, "quantity": 1}], idempotencyKey="daily")
        async with db.transaction() as session:
            await session.execute(
                update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        again = await add(
            client, cart_id, reach, [{"gtin": code, "quantity": 1}], idempotencyKey="daily"
        )
    assert again["replayed"] is False
    assert again["cart"]["lines"][0]["quantity"] == 2
    async with db.transaction(write=False) as session:
        keys = (await session.execute(select(IdempotencyKey.key))).scalars().all()
    assert keys == ["daily"]


async def test_prices_are_read_when_the_cart_is_shown(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], price=5000)
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        before = await add(client, cart_id, reach, [{"gtin": code, "quantity": 2}])
        await add_campaign(
            db, product_id, 3990, starts_at=utcnow() - timedelta(hours=1), ends_at=None
        )
        after = await graphql(client, CART, {"id": cart_id}, reach)
    assert before["cart"]["subtotal"]["amount"] == 10000
    cart = after["data"]["cart"]
    assert cart["version"] == before["cart"]["version"]
    assert cart["lines"][0]["unitPrice"] == {"amount": 3990}
    assert cart["subtotal"]["amount"] == cart["lines"][0]["lineTotal"]["amount"] == 7980


async def test_a_cart_is_invisible_without_its_token(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        someone = await sign_up(client, "someone@example.com")
        wrong = {"X-Cart-Token": "ct_" + "x" * 43}
        for headers in ({}, wrong, someone, {"Authorization": "Bearer nonsense"}):
            shown = await graphql(client, CART, {"id": cart_id}, headers)
            node = await graphql(client, NODE, {"id": cart_id}, headers)
            changed = await add(client, cart_id, headers, [{"gtin": code, "quantity": 1}])
            assert shown == {"data": {"cart": None}}
            assert node == {"data": {"node": None}}
            assert changed["cart"] is None
            assert [(e["code"], e["message"]) for e in changed["errors"]] == [
                ("NOT_FOUND", "There is no such cart.")
            ]
        missing = encode_id("Cart", 999)
        assert (await add(client, missing, reach, [{"gtin": code, "quantity": 1}]))["errors"] == (
            changed["errors"]
        )
        mine = await graphql(client, NODE, {"id": cart_id}, reach)
    assert mine == {"data": {"node": {"id": cart_id, "version": 1}}}


async def test_a_customer_has_one_cart_on_every_device(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "one@example.com")
        first = await graphql(client, CREATE, headers=session)
        second = await graphql(client, CREATE, headers=session)
        me = await graphql(client, "{ me { email cart { id } } }", headers=session)
    assert first["data"]["cartCreate"]["cartToken"] is None
    cart_id = first["data"]["cartCreate"]["cart"]["id"]
    assert second["data"]["cartCreate"]["cart"]["id"] == cart_id
    assert me["data"]["me"] == {"email": "one@example.com", "cart": {"id": cart_id}}


async def test_a_cart_of_fifty_lines_costs_a_fixed_number_of_queries(
    db: Database, tmp_path: Path
) -> None:
    codes = [fresh_ean13() for _ in range(50)]
    for i, code in enumerate(codes):
        pid = await add_product(db, gtins=[code], price=1000 + i)
        if i % 5 == 0:
            await add_campaign(db, pid, 500, starts_at=None, ends_at=None)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    async with client_for(db, tmp_path) as client:
        small, small_reach = await new_cart(client)
        await add(client, small, small_reach, [{"gtin": c, "quantity": 1} for c in codes[:2]])
        big, big_reach = await new_cart(client)
        await add(client, big, big_reach, [{"gtin": c, "quantity": 2} for c in codes])
        # Read-only operations on PostgreSQL run on the autocommit engine (no BEGIN/COMMIT).
        engines = [db.engine.sync_engine]
        if not db.is_sqlite:
            engines.append(db.autocommit_reads().sync_engine)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            few = await graphql(client, CART, {"id": small}, small_reach)
            few_count = len(statements)
            statements.clear()
            many = await graphql(client, CART, {"id": big}, big_reach)
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
    assert len(few["data"]["cart"]["lines"]) == 2
    assert len(many["data"]["cart"]["lines"]) == 50
    expected = sum(2 * (500 if i % 5 == 0 else 1000 + i) for i in range(50))
    assert many["data"]["cart"]["subtotal"]["amount"] == expected
    # cart, lines, products, barcodes, prices, campaign prices: the same for 2 or 50 lines
    # (the read-model pages, none yet as nothing drained, go through the page reader, which
    # sends its one statement outside these engines: tests/server/test_list_reads.py).
    assert len(statements) == few_count == 6
