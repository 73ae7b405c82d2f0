"""Ids, cursors and order numbers past the keys' range name nothing and fail nothing.

Found by the GraphQL fuzz run (tests/schema/test_fuzz.py): a global id or cursor holding a
number past what a key column stores (INTEGER, 32 bits on PostgreSQL; 64 on SQLite) or past
the 4,300 digits ``int()`` reads failed the statement or the parse and answered ``INTERNAL``,
and a search cursor near 2**31 aborted the embedded engine's process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.ids import encode_id, parse_key
from schema.paging import encode_cursor
from server.db import Database
from server.orders.numbers import luhn_digit
from tests.clients import client_for, graphql, sign_up

NODE = "query Node($id: ID!) { node(id: $id) { id } }"
CART = "query Cart($id: ID!) { cart(id: $id) { id } }"
ORDERS = "query Orders($after: String) { orders(after: $after) { edges { cursor } } }"
SEARCH = 'query Search($after: String) { search(query: "melk", after: $after) { totalCount } }'
BY_NUMBER = "query ByNumber($n: String!) { orderByNumber(number: $n) { id } }"


def codes(body: dict[str, object]) -> list[tuple[str, str | None]]:
    """Return the (code, field) of each GraphQL error of a response."""
    errors = body.get("errors") or []
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in errors]  # type: ignore[attr-defined,index]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), (str(2**31 - 1), 2**31 - 1), (str(2**31), None), ("9" * 5000, None)]
    + [("-1", None), ("", None), ("١٢", None), ("00000000042", None)],
)
def test_a_key_is_ascii_digits_within_the_range_of_a_key_column(
    text: str, expected: int | None
) -> None:
    assert parse_key(text) == expected


@pytest.mark.parametrize("pk", [2**31, 2**63, "9" * 5000])
async def test_node_of_a_key_past_the_range_is_null(
    db: Database, tmp_path: Path, pk: int | str
) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, NODE, {"id": encode_id("Product", pk)})
    assert body == {"data": {"node": None}}


@pytest.mark.parametrize("pk", [2**31, 10**40, "9" * 5000])
async def test_a_cart_id_past_the_range_is_no_cart_id(
    db: Database, tmp_path: Path, pk: int | str
) -> None:
    async with client_for(db, tmp_path) as client:
        customer = await sign_up(client, "kari@example.com")
        body = await graphql(client, CART, {"id": encode_id("Cart", pk)}, customer)
    assert body["data"] == {"cart": None}
    assert codes(body) == [("INVALID_INPUT", "id")]


async def test_an_order_cursor_past_the_range_was_not_handed_out(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        customer = await sign_up(client, "kari@example.com")
        body = await graphql(client, ORDERS, {"after": encode_cursor("order", 10**30)}, customer)
    assert body["data"] is None
    assert codes(body) == [("INVALID_INPUT", "after")]


@pytest.mark.parametrize(
    ("cursor_offset", "expected"),
    [
        (99_999, []),
        (100_000, [("INVALID_INPUT", "after")]),
        (2**31 - 1, [("INVALID_INPUT", "after")]),
    ],
)
async def test_search_pages_reach_the_first_100000_hits(
    sqlite_db: Database, tmp_path: Path, cursor_offset: int, expected: list[tuple[str, str]]
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        body = await graphql(client, SEARCH, {"after": encode_cursor("offset", cursor_offset)})
    assert codes(body) == expected
    assert body["data"] == ({"search": {"totalCount": 0}} if not expected else None)


async def test_an_order_number_past_the_range_names_no_order(db: Database, tmp_path: Path) -> None:
    body_digits = "999999999999"
    number = f"OC-26-{body_digits}-{luhn_digit('26' + body_digits)}"
    async with client_for(db, tmp_path) as client:
        customer = await sign_up(client, "kari@example.com")
        body = await graphql(client, BY_NUMBER, {"n": number}, customer)
    assert body == {"data": {"orderByNumber": None}}
