"""The per-line limit (99 units of one product) holds however the units arrive.

Repeated lines of one product add up before the limit is checked, on a new line and on an
existing one alike; the line whose units pass the limit is named, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from schema.ids import encode_id
from server.db import Database
from server.models import Cart, CartLine
from tests.clients import client_for, graphql, new_cart
from tests.rows import add_product, fresh_ean13

CART_FIELDS = "id version totalQuantity lines { id quantity }"
CREATE = f"""
mutation Create($input: CartCreateInput) {{
  cartCreate(input: $input) {{ cart {{ {CART_FIELDS} }} cartToken errors {{ code field message }} }}
}}
"""
ADD = f"""
mutation Add($input: CartLinesAddInput!) {{
  cartLinesAdd(input: $input) {{ cart {{ {CART_FIELDS} }} errors {{ code field message }} }}
}}
"""
UPDATE = f"""
mutation Update($input: CartLinesUpdateInput!) {{
  cartLinesUpdate(input: $input) {{ cart {{ {CART_FIELDS} }} errors {{ code field message }} }}
}}
"""
CART = f"query Cart($id: ID!) {{ cart(id: $id) {{ {CART_FIELDS} }} }}"


async def rows(db: Database) -> tuple[int, int, int]:
    """Return (carts, cart lines, units in all lines) as stored."""
    async with db.transaction(write=False) as session:
        carts = (await session.execute(select(func.count()).select_from(Cart))).scalar_one()
        lines, units = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(CartLine.quantity), 0))
            )
        ).one()
    return carts, lines, units


async def test_a_product_repeated_100_times_by_99_is_refused_on_its_second_line(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        lines = [{"gtin": code, "quantity": 99}] * 100
        body = await graphql(client, ADD, {"input": {"cartId": cart_id, "lines": lines}}, reach)
        after = await graphql(client, CART, {"id": cart_id}, reach)
    payload = body["data"]["cartLinesAdd"]
    assert payload["cart"] is None
    assert payload["errors"] == [
        {
            "code": "INVALID_QUANTITY",
            "field": "lines[1].quantity",
            "message": "At most 99 of one product fit in a cart; with this line it would hold 198.",
        }
    ]
    assert after["data"]["cart"] == {"id": cart_id, "version": 1, "totalQuantity": 0, "lines": []}
    assert await rows(db) == (1, 0, 0)


async def test_a_new_cart_with_3_times_99_of_one_product_is_not_created(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        lines = [{"gtin": code, "quantity": 99}] * 3
        body = await graphql(client, CREATE, {"input": {"lines": lines}})
    payload = body["data"]["cartCreate"]
    assert (payload["cart"], payload["cartToken"]) == (None, None)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_QUANTITY", "lines[1].quantity")
    ]
    assert await rows(db) == (0, 0, 0)


async def test_the_same_product_by_barcode_and_by_id_adds_up_against_the_limit(
    db: Database, tmp_path: Path
) -> None:
    code, other = fresh_ean13(), fresh_ean13()
    product_id = await add_product(db, gtins=[code])
    await add_product(db, gtins=[other])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        lines = [
            {"gtin": other, "quantity": 1},
            {"gtin": code, "quantity": 60},
            {"productId": encode_id("Product", product_id), "quantity": 39},
            {"gtin": code, "quantity": 1},
        ]
        body = await graphql(client, ADD, {"input": {"cartId": cart_id, "lines": lines}}, reach)
        fits = await graphql(client, ADD, {"input": {"cartId": cart_id, "lines": lines[:3]}}, reach)
    assert [(e["code"], e["field"]) for e in body["data"]["cartLinesAdd"]["errors"]] == [
        ("INVALID_QUANTITY", "lines[3].quantity")
    ]
    cart = fits["data"]["cartLinesAdd"]["cart"]
    assert (cart["version"], [line["quantity"] for line in cart["lines"]]) == (2, [1, 99])


async def test_adding_to_a_line_past_99_names_the_line_that_passes_it(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        first = [{"gtin": code, "quantity": 97}]
        await graphql(client, ADD, {"input": {"cartId": cart_id, "lines": first}}, reach)
        lines = [{"gtin": code, "quantity": 1}, {"gtin": code, "quantity": 1}] * 2
        body = await graphql(client, ADD, {"input": {"cartId": cart_id, "lines": lines}}, reach)
        after = await graphql(client, CART, {"id": cart_id}, reach)
    assert body["data"]["cartLinesAdd"]["errors"] == [
        {
            "code": "INVALID_QUANTITY",
            "field": "lines[2].quantity",
            "message": "At most 99 of one product fit in a cart; it holds 97, and with this "
            "line it would hold 100.",
        }
    ]
    cart = after["data"]["cart"]
    assert (cart["version"], [line["quantity"] for line in cart["lines"]]) == (2, [97])
    assert await rows(db) == (1, 1, 97)


async def test_updating_a_line_above_99_is_refused_and_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    a, b = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[a])
    await add_product(db, gtins=[b])
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        added = await graphql(
            client,
            ADD,
            {
                "input": {
                    "cartId": cart_id,
                    "lines": [{"gtin": a, "quantity": 5}, {"gtin": b, "quantity": 6}],
                }
            },
            reach,
        )
        line_a, line_b = (line["id"] for line in added["data"]["cartLinesAdd"]["cart"]["lines"])
        changes = [{"lineId": line_a, "quantity": 99}, {"lineId": line_b, "quantity": 100}]
        body = await graphql(
            client, UPDATE, {"input": {"cartId": cart_id, "lines": changes}}, reach
        )
        after = await graphql(client, CART, {"id": cart_id}, reach)
    assert body["data"]["cartLinesUpdate"]["errors"] == [
        {
            "code": "INVALID_QUANTITY",
            "field": "lines[1].quantity",
            "message": "A quantity is between 1 and 99; got 100.",
        }
    ]
    cart = after["data"]["cart"]
    assert (cart["version"], [line["quantity"] for line in cart["lines"]]) == (2, [5, 6])
    assert await rows(db) == (1, 2, 11)
