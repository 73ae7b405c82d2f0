"""The GraphQL side of notifications: pushSubscribe, checkout's contact, complements, the report."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from schema.ids import encode_id
from server.analytics import scan_report
from server.db import Database
from server.models import utcnow
from server.notifications.back_in_stock import request_back_in_stock
from server.notifications.push import subscribe_push
from server.orders.placed import follow_all
from server.viewer import Viewer
from tests.clients import client_for, collect_at, graphql, new_cart, place_order
from tests.rows import add_device, add_product, add_store, fresh_ean13
from tests.stock_helpers import movement, record

SUBSCRIBE = """
mutation Sub($input: PushSubscribeInput!) {
  pushSubscribe(input: $input) { subscribed errors { code field } }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { order { id } errors { code field } }
}
"""
CREATE = """
mutation($i: CartCreateInput) { cartCreate(input: $i) { cart { id version } cartToken } }
"""
COMPLEMENTS = """
query Goes($gtin: String!, $store: ID) {
  product(gtin: $gtin) { complements(storeId: $store) { name } }
}
"""


def browser_keys() -> dict[str, str]:
    raw = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "p256dh": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "auth": base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="),
    }


async def test_push_subscribe_checks_who_where_and_the_keys(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        _, reach = await new_cart(client)
        good = {"endpoint": "https://push.example.net/sub/1", "keys": browser_keys()}
        cases = [
            ({}, good, "UNAUTHORIZED", None),
            (reach, good | {"endpoint": "http://10.0.0.1/sub"}, "INVALID_INPUT", "endpoint"),
            (reach, good | {"endpoint": "http://127.0.0.1/sub"}, "INVALID_INPUT", "endpoint"),
            (
                reach,
                good | {"keys": {**good["keys"], "p256dh": "AAAA"}},
                "INVALID_INPUT",
                "keys.p256dh",
            ),
            (reach, good | {"keys": {**good["keys"], "auth": "!!"}}, "INVALID_INPUT", "keys.auth"),
        ]
        for headers, given, code, field in cases:
            body = await graphql(client, SUBSCRIBE, {"input": given}, headers)
            assert body["data"]["pushSubscribe"] == {
                "subscribed": False,
                "errors": [{"code": code, "field": field}],
            }, given
        body = await graphql(client, SUBSCRIBE, {"input": good}, reach)
        assert body["data"]["pushSubscribe"] == {"subscribed": True, "errors": []}
        key = await graphql(client, "{ webPushPublicKey }")
    raw = base64.urlsafe_b64decode(key["data"]["webPushPublicKey"] + "==")
    assert len(raw) == 65 and raw[0] == 4


async def test_checkout_refuses_a_contact_that_cannot_be_reached(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    gtin = fresh_ean13()
    await add_product(db, gtins=[gtin], stock={location: (5, 0)})
    async with client_for(db, tmp_path) as client:
        for contact, field in (
            ({"email": "not-mail"}, "contact.email"),
            ({"phone": "12"}, "contact.phone"),
        ):
            created = await graphql(
                client,
                CREATE,
                {"i": {"lines": [{"gtin": gtin, "quantity": 1}]}},
            )
            cart = created["data"]["cartCreate"]
            request = {
                "cartId": cart["cart"]["id"],
                "expectedVersion": cart["cart"]["version"],
                "fulfilment": collect_at(store_id),
                "contact": contact,
            }
            body = await graphql(
                client, CHECKOUT, {"input": request}, {"X-Cart-Token": cart["cartToken"]}
            )
            assert body["data"]["checkout"] == {
                "order": None,
                "errors": [{"code": "INVALID_INPUT", "field": field}],
            }


async def test_complements_are_bought_together_and_in_stock_at_the_store(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    codes = {name: fresh_ean13() for name in ("Taco", "Salsa", "Lomper", "Rømme")}
    stock = {"Taco": 20, "Salsa": 20, "Lomper": 20, "Rømme": 2}
    for name, gtin in codes.items():
        await add_product(db, gtins=[gtin], name=name, stock={location: (stock[name], 0)})
    async with client_for(db, tmp_path) as client:
        for basket in (
            ("Taco", "Salsa"),
            ("Taco", "Salsa", "Rømme"),
            ("Taco", "Lomper"),
            ("Taco", "Rømme"),
        ):
            await place_order(client, [(codes[n], 1) for n in basket], collect_at(store_id))
        # Counted after commit by the server's background follow-up, here at once.
        assert await follow_all(db) == 4
        store = encode_id("Store", store_id)
        body = await graphql(client, COMPLEMENTS, {"gtin": codes["Taco"], "store": store})
        # Rømme was bought with Taco twice, but both units are now reserved: not in stock.
        assert body["data"]["product"]["complements"] == [{"name": "Salsa"}, {"name": "Lomper"}]
        other = await graphql(client, COMPLEMENTS, {"gtin": codes["Lomper"], "store": store})
        assert other["data"]["product"]["complements"] == [{"name": "Taco"}]


async def test_the_scan_report_counts_who_asked_to_be_told(db: Database, tmp_path: Path) -> None:
    store_id, location = await add_store(db, "OSL")
    gone = await add_product(db, name="Utsolgt", stock={location: (0, 0)})
    now = utcnow()
    async with db.transaction() as session:
        for i in range(3):
            viewer = Viewer(cart_token_hash=f"{i:064d}")
            await subscribe_push(
                session, viewer, endpoint=f"https://push.example.net/{i}", **browser_keys(), now=now
            )
            await request_back_in_stock(
                session,
                viewer,
                product_id=gone,
                store_id=store_id,
                channel="push",
                language="nb",
                now=now,
            )
        report = await scan_report(
            session,
            store_id,
            since=now - timedelta(hours=1),
            until=now + timedelta(hours=1),
            window_minutes=30,
        )
    assert [(a.name, a.requests) for a in report.asked] == [("Utsolgt", 3)]
    assert report.asked_to_be_told == 3


async def test_a_till_receipt_counts_its_products_as_bought_together(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "TRD")
    codes = {name: fresh_ean13() for name in ("Brunost", "Flatbrød", "Kaffe")}
    for name, code in codes.items():
        await add_product(db, gtins=[code], name=name, stock={location: (10, 0)})
    till = await add_device(db, "TRD", "pos")
    sale = [
        movement(codes["Brunost"], store_id, "SALE", 1, receiptNumber="R-1"),
        movement(codes["Flatbrød"], store_id, "SALE", 2, receiptNumber="R-1"),
        movement(codes["Kaffe"], store_id, "SALE", 1, receiptNumber="R-2"),
    ]
    store = encode_id("Store", store_id)
    async with client_for(db, tmp_path) as client:
        recorded = await record(client, till, sale)
        body = await graphql(client, COMPLEMENTS, {"gtin": codes["Brunost"], "store": store})
        alone = await graphql(client, COMPLEMENTS, {"gtin": codes["Kaffe"], "store": store})
    assert (recorded["applied"], recorded["errors"]) == (3, [])
    assert body["data"]["product"]["complements"] == [{"name": "Flatbrød"}]
    assert alone["data"]["product"]["complements"] == []
