"""Client helpers: an app over a test database, an HTTP client for it, and GraphQL steps.

``client_for`` builds the app on real settings and talks to it through httpx's ASGI
transport; ``graphql`` posts a document. The steps (``new_cart``, ``sign_up``,
``place_order``, ``hand_over``, ``staff_sign_in``) run the shared documents of
``tests.documents`` and assert that they succeeded. Rows come from ``tests.rows``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from omnicart.app import create_app
from server.config import Settings
from server.db import Database
from server.runtime import Runtime
from tests.documents import (
    ADD_LINES,
    CART_CREATE,
    CHECKOUT,
    HANDOFF_CLAIM,
    HANDOFF_CREATE,
    SIGN_UP,
    STAFF_SIGN_IN,
)
from tests.rows import STAFF_PASSWORD

# Test passwords are hashed with argon2-cffi's cheapest profile: the default one costs about
# a quarter of a second of CPU per hash, and the suite signs up and in hundreds of times.
TEST_PASSWORD_HASHING = {"password_hash_profile": "cheapest-for-tests"}


def settings_for(db: Database, tmp_path: Path, **overrides: object) -> Settings:
    """Return settings pointing at a test database and a temporary data dir."""
    options = {**TEST_PASSWORD_HASHING, **overrides}
    return Settings(data_dir=tmp_path, database_url=db.url, **options)  # type: ignore[arg-type]


def runtime_for(db: Database, tmp_path: Path, **overrides: object) -> Runtime:
    """Return a runtime over a test database, its search index in the temporary data dir."""
    return Runtime(settings=settings_for(db, tmp_path, **overrides), db=db)


def client_of(runtime: Runtime) -> httpx.AsyncClient:
    """Return an HTTP client talking to a fresh app over the given runtime."""
    app = create_app(runtime.settings, runtime, migrate=False)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://omnicart.test"
    )


def client_for(db: Database, tmp_path: Path, **overrides: object) -> httpx.AsyncClient:
    """Return an HTTP client talking to a fresh app over the given database."""
    return client_of(runtime_for(db, tmp_path, **overrides))


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, object]:
    """POST a GraphQL document and return the decoded JSON body."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


async def new_cart(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Create a cart; return its global id and the headers that reach it."""
    body = await graphql(client, CART_CREATE, headers=headers)
    payload = body["data"]["cartCreate"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    token = payload["cartToken"]
    reach = {"X-Cart-Token": token} if token else dict(headers or {})
    return payload["cart"]["id"], reach


async def add_lines(
    client: httpx.AsyncClient,
    cart_id: str,
    reach: dict[str, str],
    lines: list[tuple[str, int]],
) -> dict[str, Any]:
    """Add (barcode, quantity) lines to a cart; return it (id, version, lines: id, quantity)."""
    variables = {
        "input": {"cartId": cart_id, "lines": [{"gtin": g, "quantity": q} for g, q in lines]}
    }
    payload = (await graphql(client, ADD_LINES, variables, reach))["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return payload["cart"]  # type: ignore[no-any-return]


async def filled_cart(
    client: httpx.AsyncClient,
    lines: list[tuple[str, int]],
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Create a cart (the customer's when ``headers`` sign one in) and add ``lines`` to it.

    Return the cart as ``add_lines`` does and the headers that reach it.
    """
    cart_id, reach = await new_cart(client, headers)
    return await add_lines(client, cart_id, reach, lines), reach


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = "correct horse battery"
) -> dict[str, str]:
    """Create a customer account; return the Authorization header of its session."""
    body = await graphql(client, SIGN_UP, {"input": {"email": email, "password": password}})
    payload = body["data"]["customerSignUp"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return {"Authorization": f"Bearer {payload['token']}"}


def collect_at(store_id: int) -> dict[str, object]:
    """Return the checkout fulfilment that collects the order at a store (by database id)."""
    from schema.ids import encode_id

    return {"clickAndCollect": {"storeId": encode_id("Store", store_id)}}


async def place_order(
    client: httpx.AsyncClient,
    lines: list[tuple[str, int]],
    fulfilment: dict[str, object],
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Fill a new cart (the customer's when ``headers`` sign one in) and check it out.

    Return the order (id, number, status, version, lines with id and quantity) and the
    headers that reach it.
    """
    variables = {"input": {"lines": [{"gtin": g, "quantity": q} for g, q in lines]}}
    created = (await graphql(client, CART_CREATE, variables, headers))["data"]["cartCreate"]  # type: ignore[index]
    assert created["errors"] == [], created
    reach = headers or {"X-Cart-Token": created["cartToken"]}
    cart = created["cart"]
    request = {"cartId": cart["id"], "expectedVersion": cart["version"], "fulfilment": fulfilment}
    body = await graphql(client, CHECKOUT, {"input": request}, reach)
    payload = body["data"]["checkout"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return payload["order"], reach


async def hand_over(
    client: httpx.AsyncClient, cart_id: str, holder: dict[str, str], device: dict[str, str]
) -> None:
    """Hand a cart to a kiosk or staff device: the holder asks for a code, the device claims it."""
    body = await graphql(client, HANDOFF_CREATE, {"input": {"cartId": cart_id}}, holder)
    issued = body["data"]["cartHandoffCreate"]  # type: ignore[index]
    assert issued["errors"] == [], issued
    body = await graphql(client, HANDOFF_CLAIM, {"input": {"code": issued["code"]}}, device)
    claimed = body["data"]["cartHandoffClaim"]  # type: ignore[index]
    assert claimed["errors"] == [], claimed


async def staff_sign_in(
    client: httpx.AsyncClient, email: str, password: str = STAFF_PASSWORD
) -> dict[str, str]:
    """Sign a staff member in; return the Authorization header of the session."""
    body = await graphql(client, STAFF_SIGN_IN, {"input": {"email": email, "password": password}})
    payload = body["data"]["staffSignIn"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return {"Authorization": f"Bearer {payload['token']}"}
