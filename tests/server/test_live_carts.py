"""Live carts over real sockets: graphql-transport-ws subscribers on uvicorn, 1 or 2 processes."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db import Database
from tests.clients import graphql, new_cart, settings_for, sign_up
from tests.conftest import REDIS_URL, require_service
from tests.documents import ADD_LINES, CUSTOMER_SIGN_IN
from tests.live import WAIT, GraphQLWebSocket, listening_socket, serve_in_process, serve_in_thread
from tests.rows import add_product, fresh_ean13

UPDATED = """
subscription Updated($cartId: ID!) {
  cartUpdated(cartId: $cartId) { id version totalQuantity lines { quantity product { name } } }
}
"""
PAUSABLE = """
subscription Pausable($cartId: ID!) { cartUpdated(cartId: $cartId) { id version liveUpdates } }
"""


async def add(
    base_url: str, cart_id: str, reach: dict[str, str], code: str, quantity: int = 1
) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": quantity}]}}
        body = await graphql(client, ADD_LINES, variables, reach)
    payload = body["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return int(payload["cart"]["version"])


def cart_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["cartUpdated"]  # type: ignore[no-any-return]


async def follow(ws: GraphQLWebSocket, cart_id: str) -> tuple[str, dict[str, Any]]:
    """Subscribe to a cart; return the operation and its first answer: the cart as it is now."""
    op = await ws.subscribe(UPDATED, {"cartId": cart_id})
    return op, cart_of(await ws.next(op))


async def share_cart_events(first: str, second: str, code: str, *, name: str) -> None:
    """Follow one cart on two servers and change it through each; every notice must arrive.

    Three changes of product ``code`` (named ``name``) go to the first server, and both
    servers' subscribers must hear each one, in order; a fourth goes to the second server and
    must reach the first's subscriber with the whole cart.
    """
    async with httpx.AsyncClient(base_url=first) as client:
        cart_id, reach = await new_cart(client)
    async with (
        GraphQLWebSocket.connect(second, ws_params(reach)) as on_second,
        GraphQLWebSocket.connect(first, ws_params(reach)) as on_first,
    ):
        op_second, second_now = await follow(on_second, cart_id)
        op_first, first_now = await follow(on_first, cart_id)
        assert second_now["version"] == first_now["version"] == 1
        for expected in (2, 3, 4):
            assert await add(first, cart_id, reach, code) == expected
            assert cart_of(await on_second.next(op_second))["version"] == expected
            assert cart_of(await on_first.next(op_first))["version"] == expected
        assert await add(second, cart_id, reach, code) == 5
        assert cart_of(await on_first.next(op_first)) == {
            "id": cart_id,
            "version": 5,
            "totalQuantity": 4,
            "lines": [{"quantity": 4, "product": {"name": name}}],
        }


def ws_params(reach: dict[str, str]) -> dict[str, str]:
    if "X-Cart-Token" in reach:
        return {"cartToken": reach["X-Cart-Token"]}
    return {"authorization": reach["Authorization"]}


async def test_two_subscribers_see_a_change_made_on_a_third_connection(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Kaffe")
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            cart_id, reach = await new_cart(client)
        async with (
            GraphQLWebSocket.connect(base_url, ws_params(reach)) as phone,
            GraphQLWebSocket.connect(base_url, ws_params(reach)) as desktop,
        ):
            on_phone, phone_now = await follow(phone, cart_id)
            on_desktop, desktop_now = await follow(desktop, cart_id)
            # Subscribing answers the cart as it is now.
            assert phone_now["version"] == desktop_now["version"] == 1
            version = await add(base_url, cart_id, reach, code, 3)
            for ws, op in ((phone, on_phone), (desktop, on_desktop)):
                assert cart_of(await ws.next(op)) == {
                    "id": cart_id,
                    "version": version,
                    "totalQuantity": 3,
                    "lines": [{"quantity": 3, "product": {"name": "Kaffe"}}],
                }
            await phone.complete(on_phone)
            # The other subscriber carries on after one completes.
            version = await add(base_url, cart_id, reach, code)
            assert cart_of(await desktop.next(on_desktop))["version"] == version == 3


async def test_a_resubscribing_client_gets_the_current_cart_first(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            session = await sign_up(client, "live@example.com")
            cart_id, reach = await new_cart(client, session)
        async with GraphQLWebSocket.connect(base_url, ws_params(reach)) as ws:
            op, now = await follow(ws, cart_id)
            assert now["version"] == 1
            await ws.complete(op)
        # Changes made while nobody listened.
        for _ in range(3):
            await add(base_url, cart_id, reach, code)
        async with GraphQLWebSocket.connect(base_url, ws_params(reach)) as ws:
            _, first = await follow(ws, cart_id)
    assert (first["version"], first["totalQuantity"]) == (4, 3)


async def test_subscribing_without_the_right_credentials_finds_no_cart(
    db: Database, tmp_path: Path
) -> None:
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            cart_id, reach = await new_cart(client)
            someone = await sign_up(client, "nosy@example.com")
        for params in ({}, {"cartToken": "ct_wrong"}, ws_params(someone)):
            async with GraphQLWebSocket.connect(base_url, params) as ws:
                op = await ws.subscribe(UPDATED, {"cartId": cart_id})
                refused = await ws.next(op)
                assert refused["type"] == "next"
                assert refused["payload"]["data"] is None
                assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == [
                    "NOT_FOUND"
                ]
                assert (await ws.next(op))["type"] == "complete"


async def test_a_guest_cart_merged_at_sign_in_ends_its_subscription(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(db, gtins=[code])
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            desktop = await sign_up(client, "merge-live@example.com")
            own_id, _ = await new_cart(client, desktop)
            guest_id, phone = await new_cart(client)
            async with (
                GraphQLWebSocket.connect(base_url, ws_params(phone)) as guest_ws,
                GraphQLWebSocket.connect(base_url, ws_params(desktop)) as own_ws,
            ):
                guest_op, guest_now = await follow(guest_ws, guest_id)
                own_op, own_now = await follow(own_ws, own_id)
                assert guest_now["version"] == own_now["version"] == 1
                await add(base_url, guest_id, phone, code, 2)
                assert cart_of(await guest_ws.next(guest_op))["version"] == 2
                signed_in = await graphql(
                    client,
                    CUSTOMER_SIGN_IN,
                    {
                        "input": {
                            "email": "merge-live@example.com",
                            "password": "correct horse battery",
                            "cartId": guest_id,
                        }
                    },
                    phone,
                )
                assert signed_in["data"]["customerSignIn"]["errors"] == []  # type: ignore[index]
                merged = cart_of(await own_ws.next(own_op))
                ended = await guest_ws.next(guest_op)
    assert (merged["version"], merged["totalQuantity"]) == (2, 2)
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_server_processes_share_changes_through_redis(
    shared_postgres: Database, tmp_path: Path
) -> None:
    if not REDIS_URL:
        require_service("Redis", "OMNICART_TEST_REDIS_URL")
    code = fresh_ean13()
    await add_product(shared_postgres, gtins=[code], name="Te")
    env = {
        "OMNICART_DATABASE_URL": shared_postgres.url,
        "OMNICART_BROKER_URL": REDIS_URL,
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_DATA_DIR": str(tmp_path / "data"),
        "OMNICART_INDEX_ON_START": "false",
    }
    with serve_in_process(env) as first, serve_in_process(env) as second:
        await share_cart_events(first, second, code, name="Te")


def spare_port() -> int:
    """Return a loopback port nothing listens on (bound once, then released)."""
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def _pongs(port: int) -> bool:
    ping = ["redis-cli", "-p", str(port), "ping"]
    return subprocess.run(ping, capture_output=True, text=True).stdout.strip() == "PONG"


@contextmanager
def redis_server(port: int) -> Iterator[None]:
    """Run a real, throw-away ``redis-server`` on ``port`` until the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("Redis", "a redis-server binary on PATH")
    assert binary is not None
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WAIT
        while not _pongs(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(WAIT)


async def test_with_redis_down_cart_updated_sends_the_cart_and_says_live_updates_are_paused(
    sqlite_db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    await add_product(sqlite_db, gtins=[code])
    port = spare_port()
    settings = settings_for(sqlite_db, tmp_path, broker_url=f"redis://127.0.0.1:{port}/0")
    with serve_in_thread(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            cart_id, reach = await new_cart(client)
        async with GraphQLWebSocket.connect(base_url, ws_params(reach)) as ws:
            op = await ws.subscribe(PAUSABLE, {"cartId": cart_id})
            # Nothing listens on the broker's port: the cart still comes, from the database.
            assert cart_of(await ws.next(op)) == {
                "id": cart_id,
                "version": 1,
                "liveUpdates": False,
            }
            with redis_server(port):
                # Redis is back: the subscription listens again and says so.
                assert cart_of(await ws.next(op)) == {
                    "id": cart_id,
                    "version": 1,
                    "liveUpdates": True,
                }
                version = await add(base_url, cart_id, reach, code)
                assert cart_of(await ws.next(op)) == {
                    "id": cart_id,
                    "version": version,
                    "liveUpdates": True,
                }
