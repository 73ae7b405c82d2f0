"""Scan reports: most scanned, scans that led to a cart line, missed demand, unknown codes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from schema.ids import encode_id
from server.db import Database
from server.models import CartLine, ScanEvent, utcnow
from tests.clients import (
    client_for,
    collect_at,
    graphql,
    hand_over,
    new_cart,
    sign_up,
    staff_sign_in,
)
from tests.documents import ADD_LINES, CART_CREATE, CHECKOUT, SCAN
from tests.rows import add_device, add_product, add_staff, add_store, fresh_ean13

REPORT = """
query Report($storeId: ID!, $since: DateTime!, $until: DateTime) {
  scanReport(storeId: $storeId, since: $since, until: $until) {
    totalScans unknownScans ledToCart outOfStockScans conversionRate windowMinutes
    store { code }
    topProducts { name gtin scans ledToCart outOfStockScans product { name } }
    missedDemand { name outOfStockScans }
    unknownCodes { code scans }
  }
}
"""


async def scan(
    client: httpx.AsyncClient, code: str, store_id: int, headers: dict[str, str]
) -> None:
    variables = {"input": {"code": code, "storeId": encode_id("Store", store_id)}}
    body = await graphql(client, SCAN, variables, headers)
    assert body["data"]["scan"]["errors"] == [], body  # type: ignore[index]


async def add(client: httpx.AsyncClient, cart_id: str, code: str, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1}]}}
    body = await graphql(client, ADD_LINES, variables, headers)
    payload = body["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == [], payload
    return payload["cart"]  # type: ignore[no-any-return]


async def test_the_report_counts_scans_conversions_and_missed_demand(
    db: Database, tmp_path: Path
) -> None:
    store_id, here = await add_store(db, "OSL")
    other_id, there = await add_store(db, "BGO")
    stocked, empty, late, split = (fresh_ean13() for _ in range(4))
    await add_product(db, gtins=[stocked], name="Stocked", stock={here: (9, 0)})
    await add_product(db, gtins=[empty], name="Empty", stock={here: (2, 2), there: (5, 0)})
    late_id = await add_product(db, gtins=[late], name="Late", stock={here: (9, 0)})
    await add_product(db, gtins=[split], name="Split", stock={here: (9, 0), there: (9, 0)})
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    unknown = fresh_ean13("704")
    start = utcnow() - timedelta(minutes=1)
    async with client_for(db, tmp_path) as client:
        # A guest scans, then adds: counts. Scans again and adds more: the line existed.
        cart_id, phone = await new_cart(client)
        await scan(client, stocked, store_id, phone)
        await add(client, cart_id, stocked, phone)
        await scan(client, stocked, store_id, phone)
        await add(client, cart_id, stocked, phone)
        # Out of stock here: missed demand, even though another store has it.
        await scan(client, empty, store_id, phone)
        await scan(client, empty, store_id, {})
        # Added too late (moved 31 minutes after the scan below).
        await scan(client, late, store_id, phone)
        await add(client, cart_id, late, phone)
        # A customer scans and adds; the line then leaves the cart in a kiosk's split.
        customer = await sign_up(client, "kari@example.com")
        mine, _ = await new_cart(client, customer)
        await scan(client, split, store_id, customer)
        await add(client, mine, stocked, customer)
        cart = await add(client, mine, split, customer)
        await hand_over(client, mine, customer, kiosk)
        placed = await graphql(
            client,
            CHECKOUT,
            {
                "input": {
                    "cartId": mine,
                    "expectedVersion": cart["version"],
                    "lineIds": [cart["lines"][1]["id"]],
                    "fulfilment": collect_at(other_id),
                }
            },
            kiosk,
        )
        # Nobody known scans: it cannot lead anywhere. An unknown code is what people look for.
        await scan(client, stocked, store_id, {})
        await scan(client, unknown, store_id, {})
        await scan(client, unknown, store_id, phone)
        # Another store's scans are not this store's.
        await scan(client, stocked, other_id, phone)
        async with db.transaction() as session:
            late_scan = await session.scalar(
                select(ScanEvent.scanned_at).where(ScanEvent.gtin.like(f"%{late[1:]}"))
            )
            await session.execute(
                update(CartLine)
                .where(CartLine.product_id == late_id)
                .values(created_at=late_scan + timedelta(minutes=31))
            )
        await add_staff(db, "ola@shop.no", store_code="OSL")
        staff = await staff_sign_in(client, "ola@shop.no")
        body = await graphql(
            client,
            REPORT,
            {"storeId": encode_id("Store", store_id), "since": start.isoformat()},
            staff,
        )
    assert placed["data"]["checkout"]["errors"] == []
    report = body["data"]["scanReport"]
    assert report["store"] == {"code": "OSL"} and report["windowMinutes"] == 30
    assert (report["totalScans"], report["unknownScans"]) == (9, 2)
    assert (report["ledToCart"], report["outOfStockScans"]) == (2, 2)
    assert report["conversionRate"] == 2 / 7
    assert report["topProducts"] == [
        {
            "name": "Stocked",
            "gtin": stocked,
            "scans": 3,
            "ledToCart": 1,
            "outOfStockScans": 0,
            "product": {"name": "Stocked"},
        },
        {
            "name": "Empty",
            "gtin": empty,
            "scans": 2,
            "ledToCart": 0,
            "outOfStockScans": 2,
            "product": {"name": "Empty"},
        },
        {
            "name": "Late",
            "gtin": late,
            "scans": 1,
            "ledToCart": 0,
            "outOfStockScans": 0,
            "product": {"name": "Late"},
        },
        {
            "name": "Split",
            "gtin": split,
            "scans": 1,
            "ledToCart": 1,
            "outOfStockScans": 0,
            "product": {"name": "Split"},
        },
    ]
    assert report["missedDemand"] == [{"name": "Empty", "outOfStockScans": 2}]
    assert report["unknownCodes"] == [{"code": unknown, "scans": 2}]


async def test_scans_record_the_scanners_cart_and_customer(db: Database, tmp_path: Path) -> None:
    store_id, here = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={here: (1, 0)})
    async with client_for(db, tmp_path) as client:
        _, phone = await new_cart(client)
        customer = await sign_up(client, "kari@example.com")
        await new_cart(client, customer)
        await scan(client, code, store_id, phone)
        await scan(client, code, store_id, customer)
        await scan(client, code, store_id, {})
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(ScanEvent.cart_id, ScanEvent.customer_id, ScanEvent.available_here).order_by(
                    ScanEvent.id
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1, None, True), (2, 1, True), (None, None, True)]


async def test_only_the_stores_staff_and_admins_read_its_report(
    db: Database, tmp_path: Path
) -> None:
    store_id, _ = await add_store(db, "OSL")
    await add_store(db, "BGO")
    await add_staff(db, "osl@shop.no", store_code="OSL")
    await add_staff(db, "bgo@shop.no", store_code="BGO")
    await add_staff(db, "admin@shop.no", role="admin")
    device = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'staff')}"}
    variables = {"storeId": encode_id("Store", store_id), "since": "2026-01-01"}
    async with client_for(db, tmp_path) as client:
        allowed = [
            await graphql(client, REPORT, variables, headers)
            for headers in (
                await staff_sign_in(client, "osl@shop.no"),
                await staff_sign_in(client, "admin@shop.no"),
                device,
            )
        ]
        refused = [
            await graphql(client, REPORT, variables, headers)
            for headers in (
                await staff_sign_in(client, "bgo@shop.no"),
                await sign_up(client, "kari@example.com"),
                {},
            )
        ]
        backwards = await graphql(
            client, REPORT, {**variables, "until": "2025-01-01T00:00:00Z"}, device
        )
    for body in allowed:
        assert body["data"]["scanReport"]["totalScans"] == 0
    for body in refused:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert backwards["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "until"}


SCAN_WITH_REF = """
mutation Scan($input: ScanInput!) {
  scan(input: $input) { product { name } scanRef errors { code } }
}
"""


async def report_for(
    client: httpx.AsyncClient, store_id: int, since: object, staff: dict[str, str]
) -> dict:  # type: ignore[type-arg]
    variables = {"storeId": encode_id("Store", store_id), "since": since.isoformat()}  # type: ignore[attr-defined]
    body = await graphql(client, REPORT, variables, staff)
    assert "errors" not in body, body
    return body["data"]["scanReport"]  # type: ignore[no-any-return]


async def test_a_new_guests_first_scan_counts_for_the_cart_created_after_it(
    db: Database, tmp_path: Path
) -> None:
    store_id, here = await add_store(db, "OSL")
    first, other = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[first], name="First", stock={here: (9, 0)})
    await add_product(db, gtins=[other], name="Other", stock={here: (9, 0)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    start = utcnow() - timedelta(minutes=1)
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@shop.no")
        variables = {"input": {"code": first, "storeId": encode_id("Store", store_id)}}
        scanned = (await graphql(client, SCAN_WITH_REF, variables))["data"]["scan"]
        # Someone else's scan: a forged or stolen reference moves nothing.
        variables = {"input": {"code": other, "storeId": encode_id("Store", store_id)}}
        theirs = (await graphql(client, SCAN_WITH_REF, variables))["data"]["scan"]
        event_id = int(theirs["scanRef"].split(".")[0])
        created = await graphql(
            client,
            CART_CREATE,
            {"input": {"scanRefs": [scanned["scanRef"], f"{event_id}.forged", "junk"]}},
        )
        made = created["data"]["cartCreate"]
        await add(client, made["cart"]["id"], first, {"X-Cart-Token": made["cartToken"]})
        await add(client, made["cart"]["id"], other, {"X-Cart-Token": made["cartToken"]})
        # Once in a cart, the scan answers no reference: it is linked already.
        variables = {"input": {"code": first, "storeId": encode_id("Store", store_id)}}
        linked = await graphql(
            client, SCAN_WITH_REF, variables, {"X-Cart-Token": made["cartToken"]}
        )
        report = await report_for(client, store_id, start, staff)
    assert scanned["product"] == {"name": "First"}
    assert scanned["scanRef"] and theirs["scanRef"]
    assert linked["data"]["scan"]["scanRef"] is None
    products = {p["name"]: (p["scans"], p["ledToCart"]) for p in report["topProducts"]}
    assert products == {"First": (2, 1), "Other": (1, 0)}
    async with db.transaction() as session:
        carts = (await session.execute(select(ScanEvent.cart_id).order_by(ScanEvent.id))).scalars()
        assert [c is not None for c in carts] == [True, False, True]


async def test_the_example_code_opens_its_product_and_counts_in_no_report(
    db: Database, tmp_path: Path
) -> None:
    store_id, here = await add_store(db, "OSL")
    example = fresh_ean13()
    # Out of stock here: a real scan of it would be missed demand.
    await add_product(db, gtins=[example], name="Example", stock={here: (0, 0)})
    await add_staff(db, "ola@shop.no", store_code="OSL")
    start = utcnow() - timedelta(minutes=1)
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@shop.no")
        store = encode_id("Store", store_id)
        tried = await graphql(
            client, SCAN_WITH_REF, {"input": {"code": example, "storeId": store, "example": True}}
        )
        unknown = await graphql(
            client,
            SCAN_WITH_REF,
            {"input": {"code": fresh_ean13("704"), "storeId": store, "example": True}},
        )
        empty = await report_for(client, store_id, start, staff)
        await graphql(client, SCAN_WITH_REF, {"input": {"code": example, "storeId": store}})
        counted = await report_for(client, store_id, start, staff)
    assert tried["data"]["scan"] == {"product": {"name": "Example"}, "scanRef": None, "errors": []}
    assert unknown["data"]["scan"]["product"] is None
    assert (empty["totalScans"], empty["missedDemand"], empty["unknownCodes"]) == (0, [], [])
    # The same code scanned for real is demand (the test would pass if nothing ever counted).
    assert counted["missedDemand"] == [{"name": "Example", "outOfStockScans": 1}]
