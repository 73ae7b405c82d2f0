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

from sqlalchemy import event

from schema.ids import encode_id
from server.db import Database
from tests.clients import client_for, filled_cart, graphql
from tests.documents import ADD_LINES, CHECKOUT
from tests.rows import add_product, add_store, fresh_ean13

# Statements per request, by database dialect.
CART_CHANGE = {"sqlite": 9, "postgresql": 6}
CHECKOUT_OF_5 = {"sqlite": 27, "postgresql": 24}


@contextmanager
def statements_of(db: Database) -> Iterator[list[str]]:
    """Collect the SQL of every statement the database's engine executes inside the block."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split())[:120])

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def five_products(db: Database) -> tuple[int, list[str]]:
    """Create a store with five products in stock there; return its id and their barcodes."""
    store_id, location = await add_store(db, "OSL")
    codes = [fresh_ean13() for _ in range(5)]
    for code in codes:
        await add_product(db, gtins=[code], stock={location: (20, 0)})
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


async def test_a_checkout_of_five_lines_sends_its_pinned_statements(
    db: Database, tmp_path: Path
) -> None:
    store_id, codes = await five_products(db)
    async with client_for(db, tmp_path, index_on_start=False) as client:
        cart, reach = await filled_cart(client, [(code, 2) for code in codes])
        request = {
            "cartId": cart["id"],
            "expectedVersion": cart["version"],
            "fulfilment": {"clickAndCollect": {"storeId": encode_id("Store", store_id)}},
        }
        with statements_of(db) as sent:
            body = await graphql(client, CHECKOUT, {"input": request}, reach)
    payload = body["data"]["checkout"]  # type: ignore[index]
    assert payload["errors"] == []
    assert [line["quantity"] for line in payload["order"]["lines"]] == [2, 2, 2, 2, 2]
    assert len(sent) == CHECKOUT_OF_5[db.engine.dialect.name], "\n".join(sent)
