"""Small factory functions that build test data through the ORM, one call per thing."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from stdnum import ean

from server.config import Settings
from server.db import Database
from server.models import (
    Campaign,
    CampaignPrice,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
)
from server.outbox import record_product_changes
from server.runtime import Runtime

_counter = itertools.count(1)


def fresh_ean13(prefix: str = "703") -> str:
    """Return a new valid EAN-13 (13 digits) that no other call returns in this run."""
    body = f"{prefix}{next(_counter):0{12 - len(prefix)}d}"
    return body + ean.calc_check_digit(body)


def settings_for(db: Database, tmp_path: Path, **overrides: object) -> Settings:
    """Return settings pointing at a test database and a temporary data dir."""
    return Settings(data_dir=tmp_path, database_url=db.url, **overrides)  # type: ignore[arg-type]


def runtime_for(db: Database, tmp_path: Path, **overrides: object) -> Runtime:
    """Return a runtime over a test database, its search index in the temporary data dir."""
    return Runtime(settings=settings_for(db, tmp_path, **overrides), db=db)


def client_of(runtime: Runtime) -> httpx.AsyncClient:
    """Return an HTTP client talking to a fresh app over the given runtime."""
    from omnicart.app import create_app

    app = create_app(runtime.settings, runtime, migrate=False)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://omnicart.test"
    )


def client_for(db: Database, tmp_path: Path, **overrides: object) -> httpx.AsyncClient:
    """Return an HTTP client talking to a fresh app over the given database."""
    return client_of(runtime_for(db, tmp_path, **overrides))


async def add_store(db: Database, code: str, name: str | None = None) -> tuple[int, int]:
    """Create a store with its stock location; return (store id, location id)."""
    async with db.transaction() as session:
        store = Store(
            code=code, name=name or f"Store {code}", address=f"{code} street 1", city="Oslo"
        )
        session.add(store)
        await session.flush()
        location = StockLocation(code=f"LOC-{code}", store_id=store.id, online=False)
        session.add(location)
        await session.flush()
        return store.id, location.id


async def add_online_warehouse(db: Database) -> int:
    """Create the online warehouse location; return its id."""
    async with db.transaction() as session:
        location = StockLocation(code="ONLINE", store_id=None, online=True)
        session.add(location)
        await session.flush()
        return location.id


async def add_product(
    db: Database,
    *,
    gtins: list[str] | None = None,
    name: str = "Test product",
    brand: str | None = "Testbrand",
    categories: list[str] | None = None,
    price: int | None = 4990,
    currency: str = "NOK",
    stock: dict[int, tuple[int, int]] | None = None,
) -> int:
    """Create a product with barcodes (canonical 14-digit), a price and stock per location id.

    ``stock`` maps a location id to (on hand, reserved).
    """
    from server.gtin import parse_gtin

    codes = gtins or [fresh_ean13()]
    async with db.transaction() as session:
        product = Product(
            sku=f"SKU-{codes[0]}",
            name=name,
            brand=brand,
            categories=categories or ["Food"],
            attributes={},
        )
        session.add(product)
        await session.flush()
        for i, code in enumerate(codes):
            session.add(
                ProductBarcode(
                    product_id=product.id, gtin=parse_gtin(code).digits, is_primary=i == 0
                )
            )
        if price is not None:
            session.add(Price(product_id=product.id, currency=currency, amount=price))
        for location_id, (on_hand, reserved) in (stock or {}).items():
            session.add(
                StockLevel(
                    location_id=location_id,
                    product_id=product.id,
                    on_hand=on_hand,
                    reserved=reserved,
                )
            )
        await session.flush()
        await record_product_changes(session, [product.id])
        return product.id


async def add_campaign(
    db: Database,
    product_id: int,
    amount: int,
    *,
    name: str = "Ukens tilbud",
    starts_at: datetime | None,
    ends_at: datetime | None,
    currency: str = "NOK",
) -> int:
    """Create a campaign lowering one product's price in a window; return its id."""
    async with db.transaction() as session:
        campaign = Campaign(name=name, starts_at=starts_at, ends_at=ends_at)
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignPrice(
                campaign_id=campaign.id, product_id=product_id, currency=currency, amount=amount
            )
        )
        return campaign.id


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


async def add_device(db: Database, store_code: str, kind: str = "kiosk") -> str:
    """Register a kiosk or staff device of an existing store; return its bearer token."""
    from server.accounts import add_device as register
    from server.models import utcnow

    async with db.transaction() as session:
        _, token = await register(
            session,
            store_code=store_code,
            kind=kind,  # type: ignore[arg-type]
            name=None,
            now=utcnow(),
        )
    return token


NEW_CART = "mutation { cartCreate { cart { id version } cartToken errors { code } } }"
SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) { token cart { id version } errors { code field message } }
}
"""


async def new_cart(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Create a cart; return its global id and the headers that reach it."""
    body = await graphql(client, NEW_CART, headers=headers)
    payload = body["data"]["cartCreate"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    token = payload["cartToken"]
    reach = {"X-Cart-Token": token} if token else dict(headers or {})
    return payload["cart"]["id"], reach


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = "correct horse battery"
) -> dict[str, str]:
    """Create a customer account; return the Authorization header of its session."""
    body = await graphql(client, SIGN_UP, {"input": {"email": email, "password": password}})
    payload = body["data"]["customerSignUp"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return {"Authorization": f"Bearer {payload['token']}"}


CREATE_WITH_LINES = """
mutation Create($input: CartCreateInput) {
  cartCreate(input: $input) { cart { id version } cartToken errors { code } }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { id number status version lines { id quantity } } errors { code message }
  }
}
"""
HANDOFF = """
mutation Handoff($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code errors { code } }
}
"""
CLAIM = """
mutation Claim($input: CartHandoffClaimInput!) {
  cartHandoffClaim(input: $input) { cart { version } errors { code } }
}
"""


async def store_with_product(
    db: Database, store_code: str = "OSL", *, on_hand: int = 5, **product: Any
) -> tuple[int, int, str, int]:
    """Create a store and a product with ``on_hand`` units there (``product``: add_product's).

    Return (store id, location id, the product's barcode, product id).
    """
    store_id, location = await add_store(db, store_code)
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], stock={location: (on_hand, 0)}, **product)
    return store_id, location, code, product_id


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
    created = (await graphql(client, CREATE_WITH_LINES, variables, headers))["data"]["cartCreate"]  # type: ignore[index]
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
    body = await graphql(client, HANDOFF, {"input": {"cartId": cart_id}}, holder)
    issued = body["data"]["cartHandoffCreate"]  # type: ignore[index]
    assert issued["errors"] == [], issued
    body = await graphql(client, CLAIM, {"input": {"code": issued["code"]}}, device)
    claimed = body["data"]["cartHandoffClaim"]  # type: ignore[index]
    assert claimed["errors"] == [], claimed


STAFF_PASSWORD = "staff password 1"
STAFF_SIGN_IN = """
mutation StaffSignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) { token errors { code message } }
}
"""


async def add_staff(
    db: Database,
    email: str,
    *,
    role: str = "staff",
    store_code: str | None = None,
    name: str = "Staff member",
    password: str = STAFF_PASSWORD,
) -> int:
    """Create a staff account (``staff`` of a store, or ``admin``); return its id."""
    from server.models import utcnow
    from server.staff import add_staff as create

    async with db.transaction() as session:
        record = await create(
            session,
            email=email,
            name=name,
            role=role,
            store_code=store_code,
            password=password,
            now=utcnow(),
        )
    return record.id


async def staff_sign_in(
    client: httpx.AsyncClient, email: str, password: str = STAFF_PASSWORD
) -> dict[str, str]:
    """Sign a staff member in; return the Authorization header of the session."""
    body = await graphql(client, STAFF_SIGN_IN, {"input": {"email": email, "password": password}})
    payload = body["data"]["staffSignIn"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return {"Authorization": f"Bearer {payload['token']}"}


async def stock_figures(db: Database, location_id: int, product_id: int) -> tuple[int, int, int]:
    """Return (on hand, reserved, units in held reservations) of a product at a location."""
    from sqlalchemy import select

    from server.orders.stock import held_units

    async with db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.location_id == location_id, StockLevel.product_id == product_id
                )
            )
        ).one_or_none()
        held = await held_units(session, location_id, product_id)
    on_hand, reserved = row if row is not None else (0, 0)
    return on_hand, reserved, held
