"""Statements per write, pinned: a cart change and a 5-line checkout, through the GraphQL app.

Every statement the app's engine sends (``before_cursor_execute``: BEGIN and savepoints
included) during the one request is counted, on SQLite and PostgreSQL. A change that adds
a statement to the hot write path makes these fail; lower them when a change saves some.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from schema.ids import encode_id
from server.db import Database
from server.indexing import Indexer
from tests.clients import client_for, client_of, filled_cart, graphql, runtime_for, sign_up
from tests.documents import ADD_LINES, CART
from tests.engine_events import cursors_seen, listening
from tests.rows import add_product, add_store, fresh_ean13

# Statements per request, by database dialect. A cart add: (SQLite's BEGIN IMMEDIATE,)
# the version bump (whose RETURNING lists the cart's lines and looks the request's products
# up: no lookup of its own) and the line write (whose RETURNING gives the changed lines);
# no savepoint, no re-read (4 / 3 with the lookup before the bump).
CART_CHANGE = {"sqlite": 3, "postgresql": 2}
# Setting a quantity or removing a line: the bump and the line write, just the same.
CART_UPDATE_OR_REMOVE = {"sqlite": 3, "postgresql": 2}
UPDATE_LINES = """
mutation Update($input: CartLinesUpdateInput!) {
  cartLinesUpdate(input: $input) { cart { version lines { id quantity } } errors { code } }
}
"""
REMOVE_LINES = """
mutation Remove($input: CartLinesRemoveInput!) {
  cartLinesRemove(input: $input) { cart { version lines { id quantity } } errors { code } }
}
"""
# A checkout of a guest's 5-line cart, click and collect (27 / 24, then 8 / 7, 8 / 4 before):
# (SQLite's BEGIN IMMEDIATE,) the version bump that closes the cart and returns its lines
# with their read-model pages and the stock location; the order, its first history step,
# its lines, their reservations and one outbox INSERT (the products and the order)
# (PostgreSQL: one statement of data-modifying CTEs), and the stock reservation
# (PostgreSQL: its row locks in a CTE of the same statement). No savepoint.
CHECKOUT_OF_5 = {"sqlite": 8, "postgresql": 3}
# A signed-in customer's: as a guest's, and their session read, their row locked before the
# bump (whose RETURNING also says whether they are a member and their language: no read of
# its own) and their fresh cart. The session is read before the write begins, outside its
# lock (schema.mutations): on SQLite in a deferred read of its own (BEGIN DEFERRED and the
# SELECT, then the write's 10), on PostgreSQL on the autocommit read engine, which these
# counts do not record (5 on the write engine).
CUSTOMER_CHECKOUT_OF_5 = {"sqlite": 12, "postgresql": 5}
PLACE = """
mutation Place($input: CheckoutInput!) {
  checkout(input: $input) {
    order { lines { name gtin quantity unitPrice { amount } } }
    errors { code message }
  }
}
"""


@contextmanager
def statements_of(db: Database) -> Iterator[list[str]]:
    """Collect the SQL of every statement the database's engine executes inside the block."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split())[:120])

    with listening(db, "before_cursor_execute", note):
        yield sent


async def five_products(db: Database) -> tuple[int, list[str]]:
    """Create a store with five products in stock there; return its id and their barcodes."""
    store_id, location = await add_store(db, "OSL")
    codes = [fresh_ean13() for _ in range(5)]
    for i, code in enumerate(codes):
        await add_product(
            db, gtins=[code], name=f"Product {i}", price=1000 + i, stock={location: (20, 0)}
        )
    return store_id, codes


async def test_a_cart_change_sends_its_pinned_statements(db: Database, tmp_path: Path) -> None:
    _store_id, codes = await five_products(db)
    async with client_for(db, tmp_path, index_on_start=False) as client:
        cart, reach = await filled_cart(client, [(codes[0], 1)])
        variables = {"input": {"cartId": cart["id"], "lines": [{"gtin": codes[1], "quantity": 2}]}}
        with statements_of(db) as sent:
            body = await graphql(client, ADD_LINES, variables, reach)
    payload = body["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == []
    assert payload["cart"]["version"] == cart["version"] + 1
    assert [line["quantity"] for line in payload["cart"]["lines"]] == [1, 2]
    assert len(sent) == CART_CHANGE[db.engine.dialect.name], "\n".join(sent)


async def test_a_cart_add_runs_its_two_writes_straight_on_the_driver(
    db: Database, tmp_path: Path
) -> None:
    """The bump and the upsert skip SQLAlchemy's execution (``server.db.rows_of``), on asyncpg
    or on SQLite's connection on the event loop: they reach ``before_cursor_execute`` without
    a cursor, and still write what they wrote before."""
    _store_id, codes = await five_products(db)
    async with client_for(db, tmp_path, index_on_start=False) as client:
        cart, reach = await filled_cart(client, [(codes[0], 1)])
        variables = {"input": {"cartId": cart["id"], "lines": [{"gtin": codes[0], "quantity": 2}]}}
        with cursors_seen(db) as seen:
            body = await graphql(client, ADD_LINES, variables, reach)
        again = await graphql(client, CART, {"id": cart["id"]}, reach)
    payload = body["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == []
    assert payload["cart"]["version"] == cart["version"] + 1
    writes = [(verb, no_cursor) for verb, no_cursor in seen if verb in ("UPDATE", "INSERT")]
    assert writes == [("UPDATE", True), ("INSERT", True)]
    read = again["data"]["cart"]  # type: ignore[index]
    assert read["version"] == cart["version"] + 1
    assert [line["quantity"] for line in read["lines"]] == [3]


async def test_setting_and_removing_lines_send_their_pinned_statements(
    db: Database, tmp_path: Path
) -> None:
    _store_id, codes = await five_products(db)
    async with client_for(db, tmp_path, index_on_start=False) as client:
        cart, reach = await filled_cart(client, [(codes[0], 1), (codes[1], 1)])
        first, second = (line["id"] for line in cart["lines"])
        change = {"cartId": cart["id"], "lines": [{"lineId": second, "quantity": 5}]}
        with statements_of(db) as set_sent:
            updated = await graphql(client, UPDATE_LINES, {"input": change}, reach)
        drop = {"cartId": cart["id"], "lineIds": [first]}
        with statements_of(db) as remove_sent:
            removed = await graphql(client, REMOVE_LINES, {"input": drop}, reach)
    assert updated["data"]["cartLinesUpdate"] == {  # type: ignore[index]
        "cart": {
            "version": cart["version"] + 1,
            "lines": [{"id": first, "quantity": 1}, {"id": second, "quantity": 5}],
        },
        "errors": [],
    }
    assert removed["data"]["cartLinesRemove"] == {  # type: ignore[index]
        "cart": {"version": cart["version"] + 2, "lines": [{"id": second, "quantity": 5}]},
        "errors": [],
    }
    expected = CART_UPDATE_OR_REMOVE[db.engine.dialect.name]
    assert len(set_sent) == expected, "\n".join(set_sent)
    assert len(remove_sent) == expected, "\n".join(remove_sent)


async def checkout_sent(
    db: Database, client: Any, store_id: int, cart: dict[str, Any], reach: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Check the cart out for collection at the store; return the body and the statements sent."""
    request = {
        "cartId": cart["id"],
        "expectedVersion": cart["version"],
        "fulfilment": {"clickAndCollect": {"storeId": encode_id("Store", store_id)}},
    }
    with statements_of(db) as sent:
        body = await graphql(client, PLACE, {"input": request}, reach)
    return body, sent


async def test_a_checkout_of_five_lines_sends_its_pinned_statements(
    db: Database, tmp_path: Path
) -> None:
    store_id, codes = await five_products(db)
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    # The read model is built, as the server's indexer does within a second of a change.
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    async with client_of(runtime) as client:
        cart, reach = await filled_cart(client, [(code, 2) for code in codes])
        body, sent = await checkout_sent(db, client, store_id, cart, reach)
    await runtime.close()
    payload = body["data"]["checkout"]  # type: ignore[index]
    assert payload["errors"] == []
    # Names, barcodes and prices come from the pages, as the catalog has them.
    assert [
        (line["name"], int(line["gtin"]), line["quantity"], line["unitPrice"]["amount"])
        for line in payload["order"]["lines"]
    ] == [(f"Product {i}", int(code), 2, 1000 + i) for i, code in enumerate(codes)]
    assert len(sent) == CHECKOUT_OF_5[db.engine.dialect.name], "\n".join(sent)


async def test_a_checkout_after_another_of_the_same_products_sends_as_many(
    db: Database, tmp_path: Path
) -> None:
    """The first checkout's stock change, not yet drained, leaves the pages usable."""
    store_id, codes = await five_products(db)
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    async with client_of(runtime) as client:
        sent: list[list[str]] = []
        for _ in range(2):
            cart, reach = await filled_cart(client, [(code, 1) for code in codes])
            body, statements = await checkout_sent(db, client, store_id, cart, reach)
            assert body["data"]["checkout"]["errors"] == [], body  # type: ignore[index]
            sent.append(statements)
    await runtime.close()
    expected = CHECKOUT_OF_5[db.engine.dialect.name]
    assert [len(statements) for statements in sent] == [expected, expected], sent


async def test_a_customers_checkout_sends_its_pinned_statements(
    db: Database, tmp_path: Path
) -> None:
    store_id, codes = await five_products(db)
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    async with client_of(runtime) as client:
        customer = await sign_up(client, "kari@omnicart.test")
        cart, reach = await filled_cart(client, [(code, 2) for code in codes], customer)
        body, sent = await checkout_sent(db, client, store_id, cart, reach)
    await runtime.close()
    assert body["data"]["checkout"]["errors"] == [], body  # type: ignore[index]
    assert len(sent) == CUSTOMER_CHECKOUT_OF_5[db.engine.dialect.name], "\n".join(sent)
