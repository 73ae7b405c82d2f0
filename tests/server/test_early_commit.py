"""A lone mutation commits before its payload resolves; the viewer is read before it writes.

The write transaction holds SQLite's writer turn and file lock, and PostgreSQL's row locks
on the cart and the hot stock rows, for the service's statements only. What the app's
engines send is recorded in order (statements through ``before_cursor_execute``, COMMIT
and ROLLBACK through the engine's events, and on PostgreSQL the write's BEGIN, which
asyncpg sends outside any cursor). While the payload reads, a second writer probes the
locks from inside the request, waiting for nothing: on SQLite another connection's BEGIN
IMMEDIATE, then a write transaction of the app's own (the writer turn); on PostgreSQL
``FOR UPDATE NOWAIT`` of the same rows. Several root fields still share one transaction,
and a commit that fails still answers no data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.util import await_only

from schema.ids import decode_id
from server.db import Database
from server.runtime import Runtime
from tests.clients import (
    client_for,
    client_of,
    collect_at,
    filled_cart,
    graphql,
    runtime_for,
    sign_up,
)
from tests.documents import CART
from tests.rows import add_product, fresh_ean13, store_with_product

CART_ADD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) { cart { version orderedLines { gtin } } errors { code } }
}
"""
PLACE = """
mutation Place($input: CheckoutInput!) {
  checkout(input: $input) { order { number history { toStatus } } errors { code } }
}
"""
# Fails at the top level (at most 20 alternatives), after its sibling wrote.
POISONED_ADD = """
mutation Add($input: CartLinesAddInput!, $code: String!) {
  cartLinesAdd(input: $input) { cart { version } errors { code } }
  scan(input: {code: $code}) { product { alternatives(first: 999) { id } } }
}
"""
# The payload itself fails at the top level, after the write committed.
ADD_WITH_FAILING_PAYLOAD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) {
    cart { lines { product { alternatives(first: 999) { id } } } } errors { code }
  }
}
"""


@contextmanager
def wire_log(runtime: Runtime) -> Iterator[list[str]]:
    """Collect, in order, the statements, BEGINs, COMMITs and ROLLBACKs of the app's engines."""
    db = runtime.db
    sent: list[str] = []
    main = db.engine.sync_engine
    engines = [main] if db.is_sqlite else [main, db.autocommit_reads().sync_engine]

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(" ".join(sql.split()))

    listeners: list[tuple[Any, str, Callable[..., None]]] = [
        *((engine, "before_cursor_execute", statement) for engine in engines),
        (main, "commit", lambda _conn: sent.append("COMMIT")),
        (main, "rollback", lambda _conn: sent.append("ROLLBACK")),
    ]
    if not db.is_sqlite:
        # SQLite's BEGIN is a statement of its own (server.db), PostgreSQL's is not.
        listeners.append((main, "begin", lambda _conn: sent.append("BEGIN")))
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield sent
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def write_begin(db: Database) -> str:
    """Return how the write transaction's BEGIN shows in the ``wire_log``."""
    return "BEGIN IMMEDIATE" if db.is_sqlite else "BEGIN"


@contextmanager
def probe_when(db: Database, marker: str, lock: str) -> Iterator[list[str]]:
    """While a statement containing ``marker`` is about to run, try to take the write locks.

    The probe runs inside that request (``await_only`` from the engine event), and nothing
    in it waits for a lock another holds. SQLite: another connection's BEGIN IMMEDIATE with
    no busy timeout (the file's write lock), and only when that was free a write
    transaction of the app's own (this process's writer turn, then the file lock).
    PostgreSQL: ``lock``, a ``FOR UPDATE NOWAIT`` of the rows the mutation wrote. The
    outcome is ``free`` or what refused it.
    """
    outcomes: list[str] = []
    main = db.engine.sync_engine
    engines = [main] if db.is_sqlite else [main, db.autocommit_reads().sync_engine]

    async def probe() -> str:
        try:
            if db.is_sqlite:
                _take_the_file_lock(str(make_url(db.url).database))
            async with db.transaction() as session:
                await session.execute(text("SELECT 1" if db.is_sqlite else lock))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "free"

    def before(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if marker in sql and not outcomes:
            outcomes.append("probing")
            outcomes[0] = await_only(probe())

    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield outcomes
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


def _take_the_file_lock(path: str) -> None:
    """Take and give back SQLite's write lock from a connection of its own, or raise at once."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@dataclass(frozen=True)
class Lone:
    """A lone mutation, a payload read of its own, and the rows its write locks."""

    document: str
    payload_read: str
    ready: Callable[
        [httpx.AsyncClient, Database], Awaitable[tuple[dict[str, Any], dict[str, str], str]]
    ]


async def cart_add_ready(
    client: httpx.AsyncClient, db: Database
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Return a cartLinesAdd's variables, the headers reaching its cart, and its row lock."""
    _store, _location, gtin, _product = await store_with_product(db, on_hand=5)
    cart, reach = await filled_cart(client, [(gtin, 1)])
    variables = {"input": {"cartId": cart["id"], "lines": [{"gtin": gtin, "quantity": 1}]}}
    pk = decode_id(cart["id"], "Cart")
    return variables, reach, f"SELECT id FROM carts WHERE id = {pk} FOR UPDATE NOWAIT"


async def checkout_ready(
    client: httpx.AsyncClient, db: Database
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Return a checkout's variables, the headers reaching its cart, and its stock row locks."""
    store_id, location, gtin, _product = await store_with_product(db, on_hand=5)
    other = fresh_ean13()
    await add_product(db, gtins=[other], stock={location: (5, 0)})
    cart, reach = await filled_cart(client, [(gtin, 1), (other, 2)])
    variables = {
        "input": {
            "cartId": cart["id"],
            "expectedVersion": cart["version"],
            "fulfilment": collect_at(store_id),
        }
    }
    lock = f"SELECT product_id FROM stock_levels WHERE location_id = {location} FOR UPDATE NOWAIT"
    return variables, reach, lock


LONE = {
    "cartLinesAdd": Lone(CART_ADD, "JOIN order_lines", cart_add_ready),
    "checkout": Lone(PLACE, "FROM order_status_changes", checkout_ready),
}


Watch = Callable[[Runtime, str], AbstractContextManager[list[str]]]


async def send_lone(
    db: Database, tmp_path: Path, lone: Lone, watch: Watch
) -> tuple[dict[str, Any], list[str]]:
    """Ready a lone mutation on a runtime of its own and send it while ``watch`` records.

    ``watch`` is given the runtime and the rows' lock; return the answer and what it saw.
    """
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    try:
        async with client_of(runtime) as client:
            variables, reach, lock = await lone.ready(client, db)
            with watch(runtime, lock) as seen:
                body = await graphql(client, lone.document, variables, reach)
    finally:
        await runtime.close()
    return body, seen


def _wire(runtime: Runtime, _lock: str) -> AbstractContextManager[list[str]]:
    return wire_log(runtime)


def _payload_of(body: dict[str, Any]) -> dict[str, Any]:
    (payload,) = body["data"].values()
    assert payload["errors"] == [], body
    return payload  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(LONE))
async def test_a_lone_mutation_commits_before_its_payload_reads(
    db: Database, tmp_path: Path, name: str
) -> None:
    lone = LONE[name]
    body, sent = await send_lone(db, tmp_path, lone, _wire)
    _payload_of(body)
    commit = sent.index("COMMIT")
    (read,) = [i for i, sql in enumerate(sent) if lone.payload_read in sql]
    assert sent.index(write_begin(db)) < commit < read, "\n".join(sent)
    writes = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE", "SAVEPOINT")
    assert [sql for sql in sent[commit:] if sql.startswith(writes)] == [], "\n".join(sent)


@pytest.mark.parametrize("name", list(LONE))
async def test_the_write_locks_are_free_while_a_lone_mutations_payload_reads(
    db: Database, tmp_path: Path, name: str
) -> None:
    lone = LONE[name]

    def probe(runtime: Runtime, lock: str) -> AbstractContextManager[list[str]]:
        return probe_when(runtime.db, lone.payload_read, lock)

    body, outcomes = await send_lone(db, tmp_path, lone, probe)
    _payload_of(body)
    assert outcomes == ["free"]


async def test_a_signed_in_viewer_is_read_before_the_write_begins(
    db: Database, tmp_path: Path
) -> None:
    _store, _location, gtin, _product = await store_with_product(db, on_hand=5)
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    async with client_of(runtime) as client:
        signed_in = await sign_up(client, "kari@example.com")
        cart, reach = await filled_cart(client, [(gtin, 1)], signed_in)
        variables = {"input": {"cartId": cart["id"], "lines": [{"gtin": gtin, "quantity": 1}]}}
        with wire_log(runtime) as sent:
            body = await graphql(client, CART_ADD, variables, reach)
    await runtime.close()
    assert _payload_of(body)["cart"]["version"] == cart["version"] + 1
    (lookup,) = [i for i, sql in enumerate(sent) if "FROM customer_sessions" in sql]
    assert lookup < sent.index(write_begin(db)), "\n".join(sent)


async def test_a_guest_viewer_reads_nothing(db: Database, tmp_path: Path) -> None:
    body, sent = await send_lone(db, tmp_path, LONE["cartLinesAdd"], _wire)
    _payload_of(body)
    # The write's BEGIN is the first thing sent: no read came before it.
    assert sent[0] == write_begin(db), "\n".join(sent)


async def test_a_mutation_of_several_fields_rolls_back_every_field_when_one_fails(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path, index_on_start=False) as client:
        variables, reach, _lock = await cart_add_ready(client, db)
        gtin = variables["input"]["lines"][0]["gtin"]
        before = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
        poisoned = await graphql(client, POISONED_ADD, {**variables, "code": gtin}, reach)
        after = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
    assert [e["message"] for e in poisoned["errors"]] == ["Ask for 0 to 20 alternatives."]  # type: ignore[union-attr]
    assert after == before


async def test_a_lone_mutation_keeps_its_write_when_its_payload_fails_after_the_commit(
    db: Database, tmp_path: Path
) -> None:
    """What a reply lost on the way would do: the answer is an error, the write stands."""
    async with client_for(db, tmp_path, index_on_start=False) as client:
        variables, reach, _lock = await cart_add_ready(client, db)
        before = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
        failed = await graphql(client, ADD_WITH_FAILING_PAYLOAD, variables, reach)
        after = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
    assert [e["message"] for e in failed["errors"]] == ["Ask for 0 to 20 alternatives."]  # type: ignore[union-attr]
    cart_before, cart_after = before["data"]["cart"], after["data"]["cart"]  # type: ignore[index]
    assert cart_after["version"] == cart_before["version"] + 1
    assert cart_after["lines"] == [{"quantity": 2}]


# At commit, PostgreSQL runs deferred constraint triggers: one that fails, or that ends its
# own connection, makes the COMMIT itself fail the way a broken or lost server would.
FAIL_AT_COMMIT = {
    "INTERNAL": "RAISE EXCEPTION 'refused at commit';",
    "SERVICE_UNAVAILABLE": "PERFORM pg_terminate_backend(pg_backend_pid());",
}


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
@pytest.mark.parametrize("code", list(FAIL_AT_COMMIT))
async def test_a_lone_mutation_whose_commit_fails_answers_no_data(
    db: Database, tmp_path: Path, code: str
) -> None:
    async with client_for(db, tmp_path, index_on_start=False) as client:
        variables, reach, _lock = await cart_add_ready(client, db)
        before = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
        async with db.transaction() as session:
            await session.execute(
                text(
                    "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN {FAIL_AT_COMMIT[code]} RETURN NULL; END $$"
                )
            )
            await session.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON carts "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()"
                )
            )
        response = await client.post(
            "/graphql", json={"query": CART_ADD, "variables": variables}, headers=reach
        )
        async with db.transaction() as session:
            await session.execute(text("DROP TRIGGER fail_at_commit ON carts"))
        after = await graphql(client, CART, {"id": variables["input"]["cartId"]}, reach)
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert response.status_code == (503 if code == "SERVICE_UNAVAILABLE" else 200)
    assert after == before
