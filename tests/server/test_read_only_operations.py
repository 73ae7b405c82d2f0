"""Read-only GraphQL operations on PostgreSQL send no BEGIN and no COMMIT.

What reaches the server is recorded twice over on the app's engines: statements through
SQLAlchemy's ``before_cursor_execute``, and transaction control through asyncpg's own query
logger on every connection handed out (asyncpg sends BEGIN and COMMIT itself, not through a
cursor, and logs BEGIN but neither prepared statements nor its COMMIT). A mutation on the
same recorder shows its BEGIN, so the recorder does see transaction control.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from server.db import Database
from server.runtime import Runtime
from tests.clients import client_of, graphql, new_cart, runtime_for
from tests.rows import add_product, add_store, fresh_ean13

READ = """
query Shelf($gtins: [String!]!) {
  stores { id name }
  products(gtins: $gtins) {
    name price { current { amount } } availability { online { available } }
  }
}
"""


@contextmanager
def wire_statements(runtime: Runtime) -> Iterator[list[str]]:
    """Collect every query text asyncpg sends on the runtime's engines inside the block."""
    sent: list[str] = []
    engines = [runtime.db.engine.sync_engine, runtime.db.autocommit_reads().sync_engine]

    def log(query: Any) -> None:
        sent.append(" ".join(query.query.split()))

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        sent.append(" ".join(text.split()))

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(log)

    for engine in engines:
        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)
        event.listen(engine, "before_cursor_execute", statement)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "checkin", checkin)
            event.remove(engine, "before_cursor_execute", statement)


def transaction_control(sent: list[str]) -> list[str]:
    return [
        s for s in sent if s.upper().split(" ")[0].rstrip(";") in {"BEGIN", "COMMIT", "ROLLBACK"}
    ]


async def test_a_read_only_operation_sends_no_begin_or_commit(
    shared_postgres: Database, tmp_path: Path
) -> None:
    """PostgreSQL's transaction control (SQLite reads in process, with no server to talk to)."""
    db = shared_postgres
    await add_store(db, "OSL")
    codes = [fresh_ean13(), fresh_ean13()]
    for code in codes:
        await add_product(db, gtins=[code], name=f"Vare {code}")
    runtime = runtime_for(db, tmp_path)
    async with client_of(runtime) as client:
        with wire_statements(runtime) as sent:
            body = await graphql(client, READ, {"gtins": codes})
            read = list(sent)
            sent.clear()
            await new_cart(client)
            mutation = list(sent)
    assert "errors" not in body, body
    assert [p["name"] for p in body["data"]["products"]] == [f"Vare {c}" for c in codes]
    assert any(s.upper().startswith("SELECT") for s in read), read
    assert transaction_control(read) == [], read
    # The recorder sees transaction control: a mutation begins one (its COMMIT is sent by
    # asyncpg's transaction object, which the query logger does not see).
    assert [s.split(" ")[0].rstrip(";").upper() for s in transaction_control(mutation)] == [
        "BEGIN"
    ], mutation
