"""Row factories: small functions that put test data in the database, one call per thing.

Stores and their stock locations, products with barcodes, prices and stock, campaigns,
customers, devices and staff accounts, written through the ORM or the service that owns them; and
``stock_figures`` to read a product's stock back. For talking to the app see
``tests.clients``.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import select
from stdnum import ean

from server.db import Database
from server.models import (
    Campaign,
    CampaignPrice,
    CartClaim,
    Customer,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
)
from server.outbox import record_product_changes
from server.viewer import Viewer

_counter = itertools.count(1)


def fresh_ean13(prefix: str = "703") -> str:
    """Return a new valid EAN-13 (13 digits) that no other call returns in this run."""
    body = f"{prefix}{next(_counter):0{12 - len(prefix)}d}"
    return body + ean.calc_check_digit(body)


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
    active: bool = True,
    quantity: str | None = None,
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
            active=active,
            quantity=quantity,
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
    members_only: bool = False,
) -> int:
    """Create a campaign lowering one product's price in a window; return its id."""
    async with db.transaction() as session:
        campaign = Campaign(
            name=name, starts_at=starts_at, ends_at=ends_at, members_only=members_only
        )
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignPrice(
                campaign_id=campaign.id, product_id=product_id, currency=currency, amount=amount
            )
        )
        return campaign.id


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


async def add_customer(db: Database, email: str, name: str | None = None) -> int:
    """Create a customer account (its password is not meant to be used); return its id."""
    async with db.transaction() as session:
        customer = Customer(email=email, password_hash="!unusable", name=name, phone=None)
        session.add(customer)
        await session.flush()
        return customer.id


async def device_viewer(db: Database, store_code: str, kind: str = "kiosk") -> Viewer:
    """Register a kiosk or staff device of an existing store; return the viewer it signs in as."""
    from server.accounts import resolve_viewer
    from server.models import utcnow

    token = await add_device(db, store_code, kind)
    async with db.transaction(write=False) as session:
        viewer = await resolve_viewer(session, bearer=token, cart_token=None, now=utcnow())
    assert viewer.device is not None
    return viewer


async def claim_cart(db: Database, cart_id: int, device_id: int, until: datetime) -> None:
    """Let a device reach a cart until ``until``, as a handoff claim does."""
    async with db.transaction() as session:
        session.add(CartClaim(cart_id=cart_id, device_id=device_id, expires_at=until))


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


STAFF_PASSWORD = "staff password 1"


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
    from server.signin import password_hashing
    from server.staff import add_staff as create

    async with db.transaction() as session:
        record = await create(
            session,
            email=email,
            name=name,
            role=role,
            store_code=store_code,
            password=password,
            hashing=password_hashing("cheapest-for-tests"),  # as tests.clients' settings
            now=utcnow(),
        )
    return record.id


async def stock_figures(db: Database, location_id: int, product_id: int) -> tuple[int, int, int]:
    """Return (on hand, reserved, units in held reservations) of a product at a location."""

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


async def store_codes(db: Database) -> list[str]:
    """Return the codes of every store, sorted."""
    async with db.transaction(write=False) as session:
        return sorted((await session.execute(select(Store.code))).scalars().all())
