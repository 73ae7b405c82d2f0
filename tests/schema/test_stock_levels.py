"""Staff read stock: levels (all or the low ones) and the movements behind a level, audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from schema.ids import encode_id
from server.db import Database
from server.models import StaffAuditEntry
from server.stock.reconcile import check_stock
from tests.clients import client_for, collect_at, graphql, place_order, sign_up, staff_sign_in
from tests.rows import add_device, add_product, add_staff, add_store, fresh_ean13
from tests.stock_helpers import ago, movement, record

LEVELS = """
query Levels($storeId: ID, $lowOnly: Boolean, $first: Int, $after: String) {
  stockLevels(storeId: $storeId, lowOnly: $lowOnly, first: $first, after: $after) {
    levels { onHand reserved available status product { gtin } store { code } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
MOVEMENTS = """
query Movements($gtin: String!, $storeId: ID, $first: Int, $after: String) {
  stockMovements(gtin: $gtin, storeId: $storeId, first: $first, after: $after) {
    entries { movementId source kind quantity applied onHandAfter unknownUnits receiptNumber
              orderId deviceId }
    pageInfo { hasNextPage endCursor }
  }
}
"""
READY = """
mutation Ready($input: OrderActionInput!) { orderMarkReady(input: $input) { errors { code } } }
"""
COLLECT = """
mutation Collect($input: OrderActionInput!) {
  orderMarkCollected(input: $input) { errors { code } }
}
"""


async def test_staff_read_their_stores_levels_and_the_low_ones_and_each_read_is_audited(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    plenty, few, none = fresh_ean13(), fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[plenty], stock={location: (40, 0)})
    await add_product(db, gtins=[few], stock={location: (5, 3)})
    await add_product(db, gtins=[none], stock={location: (0, 0)})
    await add_staff(db, "ola@omnicart.test", store_code="OSL")
    oslo = encode_id("Store", store_id)
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@omnicart.test")
        page = await graphql(client, LEVELS, {"storeId": oslo, "first": 2}, staff)
        rest = await graphql(
            client,
            LEVELS,
            {"storeId": oslo, "after": page["data"]["stockLevels"]["pageInfo"]["endCursor"]},  # type: ignore[index]
            staff,
        )
        low = await graphql(client, LEVELS, {"storeId": oslo, "lowOnly": True}, staff)
    first = page["data"]["stockLevels"]  # type: ignore[index]
    assert [(lv["product"]["gtin"], lv["onHand"], lv["available"]) for lv in first["levels"]] == [
        (plenty, 40, 40),
        (few, 5, 2),
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [lv["product"]["gtin"] for lv in rest["data"]["stockLevels"]["levels"]] == [none]  # type: ignore[index]
    assert [
        (lv["product"]["gtin"], lv["status"], lv["store"]["code"])
        for lv in low["data"]["stockLevels"]["levels"]  # type: ignore[index]
    ] == [(few, "LOW_STOCK", "OSL"), (none, "OUT_OF_STOCK", "OSL")]
    async with db.transaction(write=False) as session:
        actions = (
            await session.execute(select(StaffAuditEntry.action, StaffAuditEntry.details))
        ).all()
    assert [tuple(a) for a in actions] == [
        ("stock.levels", {"lowOnly": False, "count": 2}),
        ("stock.levels", {"lowOnly": False, "count": 1}),
        ("stock.levels", {"lowOnly": True, "count": 2}),
    ]


async def test_stock_views_are_refused_to_others_and_hidden_across_stores(
    db: Database, tmp_path: Path
) -> None:
    oslo, _ = await add_store(db, "OSL")
    bergen, _ = await add_store(db, "BGO")
    kiosk = await add_device(db, "OSL", "kiosk")
    till = await add_device(db, "OSL", "pos")
    await add_staff(db, "ola@omnicart.test", store_code="OSL")
    async with client_for(db, tmp_path) as client:
        shopper = await sign_up(client, "shopper@example.com")
        staff = await staff_sign_in(client, "ola@omnicart.test")
        codes = []
        for headers, store in (
            ({"Authorization": f"Bearer {kiosk}"}, oslo),
            ({"Authorization": f"Bearer {till}"}, oslo),
            (shopper, oslo),
            ({}, oslo),
            (staff, bergen),
            (staff, None),
        ):
            storeid = encode_id("Store", store) if store else None
            body = await graphql(client, LEVELS, {"storeId": storeid}, headers)
            assert body["data"] is None
            codes.append(body["errors"][0]["extensions"]["code"])  # type: ignore[index]
    assert codes == ["UNAUTHORIZED"] * 4 + ["NOT_FOUND", "UNAUTHORIZED"]


async def test_the_movements_behind_a_level_include_the_opening_the_till_and_the_order(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={location: (10, 0)})
    till = await add_device(db, "OSL", "pos")
    await add_staff(db, "ola@omnicart.test", store_code="OSL")
    oslo = encode_id("Store", store_id)
    async with client_for(db, tmp_path) as client:
        staff = await staff_sign_in(client, "ola@omnicart.test")
        sale = movement(code, store_id, "SALE", 3, receiptNumber="R-77", occurredAt=ago(5))
        await record(client, till, [sale])
        order, _ = await place_order(client, [(code, 2)], collect_at(store_id))
        action = {"input": {"orderId": order["id"]}}
        for document, field in ((READY, "orderMarkReady"), (COLLECT, "orderMarkCollected")):
            done = await graphql(client, document, action, staff)
            assert done["data"][field]["errors"] == [], done  # type: ignore[index]
        newest = await graphql(
            client, MOVEMENTS, {"gtin": code, "storeId": oslo, "first": 2}, staff
        )
        page = newest["data"]["stockMovements"]  # type: ignore[index]
        older = await graphql(
            client,
            MOVEMENTS,
            {"gtin": code, "storeId": oslo, "after": page["pageInfo"]["endCursor"]},
            staff,
        )
    entries = page["entries"] + older["data"]["stockMovements"]["entries"]  # type: ignore[index]
    assert [
        (e["source"], e["kind"], e["quantity"], e["applied"], e["onHandAfter"]) for e in entries
    ] == [
        ("ORDER", "SALE", 2, -2, 5),
        ("DEVICE", "SALE", 3, -3, 7),
        ("OPENING", "COUNT", 10, 10, 10),
    ]
    assert entries[0]["orderId"] == order["id"]
    assert (entries[1]["movementId"], entries[1]["receiptNumber"]) == (sale["movementId"], "R-77")
    assert entries[1]["deviceId"] is not None and entries[2]["movementId"] is None
    assert older["data"]["stockMovements"]["pageInfo"]["hasNextPage"] is False  # type: ignore[index]
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []
