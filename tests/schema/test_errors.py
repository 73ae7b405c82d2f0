"""Client mistakes are 400s, lost services are SERVICE_UNAVAILABLE, introspection is a switch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from server.db import Database
from server.indexing import Indexer
from server.pwa_documents import product_page_document
from tests.clients import client_for, client_of, runtime_for
from tests.conftest import LimitedPostgres
from tests.documents import CART_CREATE, INTROSPECTION, STORES
from tests.rows import add_product, fresh_ean13

GRAPHQL_RESPONSE = "application/graphql-response+json"
UNAVAILABLE = {
    "message": "A service omnicart depends on cannot be reached right now; try again shortly.",
    "locations": [{"line": 1, "column": 3}],
    "path": ["stores"],
    "extensions": {"code": "SERVICE_UNAVAILABLE", "field": None, "retryable": True},
}


@pytest.mark.parametrize(("body", "kind"), [("null", "null"), ("123", "int"),
                                            ('"str"', "str"), ("true", "bool")])  # fmt: skip
async def test_a_body_that_is_not_a_json_object_is_a_400_in_the_shared_shape(
    sqlite_db: Database, tmp_path: Path, body: str, kind: str
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "INVALID_INPUT",
            "message": 'The body must be a JSON object like {"query": "…", "variables": {…}}, '
            f"not {kind}",
            "field": None,
        }
    }


async def test_a_batch_is_refused_in_the_shared_shape(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post("/graphql", json=[{"query": STORES}])
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "INVALID_INPUT", "message": "Batching is not enabled", "field": None}
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ stores { code }", "Syntax Error: Expected Name, found <EOF>."),
        ("{ noSuchField }", "Cannot query field 'noSuchField' on type 'Query'."),
    ],
)
async def test_graphql_response_json_answers_400_without_data_for_a_bad_document(
    sqlite_db: Database, tmp_path: Path, query: str, message: str
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Accept": GRAPHQL_RESPONSE}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert [e["message"] for e in body["errors"]] == [message]


async def test_application_json_keeps_200_with_null_data_for_a_bad_document(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/graphql", json={"query": "{ noSuchField }"}, headers={"Accept": "application/json"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None


async def test_graphql_response_json_answers_200_for_a_field_error(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/graphql",
            json={"query": '{ product(gtin: "123") { name } }'},
            headers={"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    body = response.json()
    assert body["data"] == {"product": None}
    assert body["errors"][0]["extensions"] == {"code": "INVALID_GTIN", "field": None}


async def test_an_unreachable_database_is_service_unavailable_503(tmp_path: Path) -> None:
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with client_for(unreachable, tmp_path) as client:
            response = await client.post("/graphql", json={"query": STORES})
    finally:
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {"data": None, "errors": [UNAVAILABLE]}


async def _backend_waiting_on_a_lock(admin: asyncpg.Connection, database: str) -> int:
    """Return the pid of the backend of ``database`` that waits for a lock, once there is one."""
    while True:
        pid = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            database,
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    ("table", "query", "field"),
    [("stores", STORES, "stores"), ("carts", CART_CREATE, "cartCreate")],
)
async def test_a_postgres_backend_killed_mid_request_is_service_unavailable(
    db: Database, tmp_path: Path, table: str, query: str, field: str
) -> None:
    url = make_url(db.url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    locker = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        async with client_for(db, tmp_path) as client:
            # Hold the request's SELECT in flight, then kill its backend from outside.
            async with locker.transaction():
                await locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                request = asyncio.create_task(client.post("/graphql", json={"query": query}))
                pid = await asyncio.wait_for(_backend_waiting_on_a_lock(admin, url.database), 10)
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
                response = await asyncio.wait_for(request, 10)
            after = await client.post("/graphql", json={"query": STORES})
    finally:
        await locker.close()
        await admin.close()
    assert response.status_code == 503
    (error,) = response.json()["errors"]
    assert (error["path"], error["extensions"]) == ([field], UNAVAILABLE["extensions"])
    # The pool replaces the dead connection: the next request is served.
    assert after.status_code == 200
    assert after.json() == {"data": {"stores": []}}


async def _release(connections: list[asyncpg.Connection]) -> None:
    for connection in connections:
        await connection.close()


async def _count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("query", "field", "data"),
    [(STORES, "stores", {"stores": []}), (CART_CREATE, "cartCreate", None)],
)
async def test_postgres_out_of_connection_slots_is_service_unavailable_until_one_frees(
    limited_postgres: LimitedPostgres,
    tmp_path: Path,
    query: str,
    field: str,
    data: dict[str, object] | None,
) -> None:
    db = limited_postgres.db
    # The role's connections are all taken: PostgreSQL refuses the app's with SQLSTATE 53300.
    held = await limited_postgres.take_every_slot()
    try:
        async with client_for(db, tmp_path) as client:
            refused = await client.post("/graphql", json={"query": query})
            await _release(held)
            served = await client.post("/graphql", json={"query": query})
    finally:
        await _release(held)
        await db.dispose()  # frees a slot to count with
    assert refused.status_code == 503
    body = refused.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert (error["message"], error["path"], error["extensions"]) == (
        UNAVAILABLE["message"],
        [field],
        {"code": "SERVICE_UNAVAILABLE", "field": None, "retryable": True},
    )
    assert served.status_code == 200
    body = served.json()
    assert "errors" not in body
    if data is not None:
        assert body["data"] == data
    else:
        assert body["data"][field]["errors"] == []
    # The refused mutation wrote nothing: the one cart is the served request's.
    assert await _count(limited_postgres.dsn, "carts") == (1 if field == "cartCreate" else 0)


async def test_the_product_screen_out_of_connection_slots_is_service_unavailable(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    # The product screen's document is answered by its own executor (schema/page_path.py)
    # from the page reads' own engine (server/page_reads.py), once the page is built.
    db = limited_postgres.db
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Lettmelk")
    runtime = runtime_for(db, tmp_path)
    await Indexer(db, runtime.search, runtime.settings.currency).drain()
    await db.dispose()
    request = {"query": product_page_document(), "variables": {"gtin": code}}
    held = await limited_postgres.take_every_slot()
    try:
        async with client_of(runtime) as client:
            refused = await client.post("/graphql", json=request)
            await _release(held)
            served = await client.post("/graphql", json=request)
    finally:
        await _release(held)
    assert refused.status_code == 503
    body = refused.json()
    assert body["data"] == {"product": None}
    (error,) = body["errors"]
    assert (error["path"], error["extensions"]) == (["product"], UNAVAILABLE["extensions"])
    assert served.status_code == 200
    assert served.json()["data"]["product"]["name"] == "Lettmelk"


async def test_introspection_is_off_by_default(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
        graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        "GraphQL introspection has been disabled, but the requested query contained the field "
        "'__schema'."
    )
    assert graphiql.status_code == 404


@pytest.mark.parametrize("settings", [{"debug": True}, {"introspection": True}])
async def test_introspection_answers_with_debug_or_when_switched_on(
    sqlite_db: Database, tmp_path: Path, settings: dict[str, object]
) -> None:
    async with client_for(sqlite_db, tmp_path, **settings) as client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_can_be_switched_off_with_debug_on(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path, debug=True, introspection=False) as client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
    assert body["data"] is None
    assert "introspection has been disabled" in body["errors"][0]["message"]
