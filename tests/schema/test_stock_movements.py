"""``stockMovementsRecord``: tills and warehouses move stock, idempotently, all or nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, update

from schema.ids import encode_id
from server.db import Database
from server.models import ProductBarcode, StockLevel, StockMovement
from server.stock.reconcile import check_stock
from tests.clients import client_for, graphql, new_cart, sign_up
from tests.rows import (
    add_device,
    add_online_warehouse,
    add_product,
    add_store,
    fresh_ean13,
    store_with_product,
)
from tests.stock_helpers import ago, level, movement, record

HERE = """
query Here($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) { availability(storeId: $storeId) { here { available status } } }
}
"""


async def movements_in_ledger(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(StockMovement)) or 0)


async def test_a_till_sale_lowers_here_by_its_quantity_and_a_replay_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    sale = movement(code, store_id, "SALE", 3, receiptNumber="R-1", customerPhone="+4791234567")
    async with client_for(db, tmp_path) as client:
        first = await record(client, till, [sale])
        assert first == {
            "applied": 1, "replayed": 0, "shortfalls": [], "rejected": [], "errors": [],
        }  # fmt: skip
        here = await graphql(client, HERE, {"gtin": code, "storeId": encode_id("Store", store_id)})
        assert here["data"]["product"]["availability"]["here"] == {  # type: ignore[index]
            "available": 7,
            "status": "IN_STOCK",
        }
        again = await record(client, till, [sale])
        assert (again["applied"], again["replayed"], again["errors"]) == (0, 1, [])
    assert await level(db, location, product_id) == (7, 0)
    # The opening balance and the sale: the ledger adds up to on hand.
    assert await movements_in_ledger(db) == 2
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []


async def test_the_same_movement_id_with_other_content_is_refused_and_applies_nothing(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    sale = movement(code, store_id, "SALE", 3)
    async with client_for(db, tmp_path) as client:
        await record(client, till, [sale])
        other = {**sale, "quantity": 4}
        refused = await record(client, till, [other, movement(code, store_id, "SALE", 1)])
    assert refused["applied"] == 0
    assert refused["rejected"] == [
        {
            "index": 0,
            "movementId": sale["movementId"],
            "code": "IDEMPOTENCY_KEY_REUSED",
            "field": "movementId",
            "message": f"movementId {sale['movementId']!r} was recorded with other content.",
        }
    ]
    assert [e["field"] for e in refused["errors"]] == ["movements.0.movementId"]
    assert await level(db, location, product_id) == (7, 0)


async def test_one_bad_movement_in_a_call_applies_none_of_it(db: Database, tmp_path: Path) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    good = movement(code, store_id, "SALE", 2)
    async with client_for(db, tmp_path) as client:
        payload = await record(
            client,
            till,
            [
                good,
                movement("3017620422004", store_id, "SALE", 1),  # wrong check digit
                movement(code, store_id, "SALE", 0),
                movement(fresh_ean13(), store_id, "RECEIPT", 5),  # nobody sells it
            ],
        )
        replay = await record(client, till, [good])
    assert payload["applied"] == 0
    assert [(r["index"], r["code"], r["field"]) for r in payload["rejected"]] == [
        (1, "INVALID_GTIN", "gtin"),
        (2, "INVALID_QUANTITY", "quantity"),
        (3, "NOT_FOUND", "gtin"),
    ]
    assert [e["field"] for e in payload["errors"]] == [
        "movements.1.gtin",
        "movements.2.quantity",
        "movements.3.gtin",
    ]
    # The good movement was not applied, so sending it alone now applies it.
    assert (replay["applied"], replay["replayed"]) == (1, 0)
    assert await level(db, location, product_id) == (8, 0)


async def test_kiosks_staff_shoppers_and_guests_may_not_record_movements(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    kiosk = await add_device(db, "OSL", "kiosk")
    staff = await add_device(db, "OSL", "staff")
    sale = movement(code, store_id, "SALE", 1)
    async with client_for(db, tmp_path) as client:
        shopper = await sign_up(client, "shopper@example.com")
        callers = [
            {"Authorization": f"Bearer {kiosk}"},
            {"Authorization": f"Bearer {staff}"},
            shopper,
            {},
        ]
        codes = []
        for headers in callers:
            body = await graphql(
                client, RECORD_ONLY_ERRORS, {"input": {"movements": [sale]}}, headers
            )
            codes.append(body["data"]["stockMovementsRecord"]["errors"])  # type: ignore[index]
    refusal = {
        "code": "UNAUTHORIZED",
        "field": None,
        "message": "Only till (pos) and warehouse devices record stock movements.",
    }
    assert codes == [[refusal]] * 4
    assert await level(db, location, product_id) == (10, 0)
    assert await movements_in_ledger(db) == 0


RECORD_ONLY_ERRORS = """
mutation Record($input: StockMovementsRecordInput!) {
  stockMovementsRecord(input: $input) { applied errors { code field message } }
}
"""


async def test_a_till_records_only_its_store_and_a_warehouse_also_the_online_warehouse(
    db: Database, tmp_path: Path
) -> None:
    oslo, oslo_location = await add_store(db, "OSL")
    bergen, bergen_location = await add_store(db, "BGO")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    pid = await add_product(db, gtins=[code], stock={oslo_location: (5, 0), online: (5, 0)})
    till = await add_device(db, "OSL", "pos")
    warehouse = await add_device(db, "OSL", "warehouse")
    async with client_for(db, tmp_path) as client:
        elsewhere = await record(client, till, [movement(code, bergen, "RECEIPT", 3)])
        online_by_till = await record(client, till, [movement(code, None, "RECEIPT", 3)])
        by_warehouse = await record(
            client, warehouse, [movement(code, None, "RECEIPT", 3), movement(code, oslo, "SALE", 1)]
        )
    assert [(r["code"], r["field"], r["message"]) for r in elsewhere["rejected"]] == [
        ("UNAUTHORIZED", "storeId", "This device does not record stock for that store.")
    ]
    assert [(r["code"], r["message"]) for r in online_by_till["rejected"]] == [
        ("UNAUTHORIZED", "This device does not record stock for the online warehouse.")
    ]
    assert by_warehouse["applied"] == 2
    assert await level(db, online, pid) == (8, 0)
    assert await level(db, oslo_location, pid) == (4, 0)
    async with db.transaction(write=False) as session:
        bergen_rows = await session.scalar(
            select(func.count())
            .select_from(StockLevel)
            .where(StockLevel.location_id == bergen_location)
        )
    assert bergen_rows == 0


async def test_a_sale_beyond_on_hand_goes_to_zero_and_reports_the_shortfall(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=2)
    till = await add_device(db, "OSL", "pos")
    sale = movement(code, store_id, "SALE", 5)
    async with client_for(db, tmp_path) as client:
        payload = await record(client, till, [sale])
    assert payload["applied"] == 1
    assert payload["shortfalls"] == [
        {
            "index": 0, "movementId": sale["movementId"], "kind": "SALE", "requested": 5,
            "applied": -2, "unknownUnits": 3, "reservedUnits": 0,
            "product": {"gtin": code}, "store": {"code": "OSL"},
        }
    ]  # fmt: skip
    assert await level(db, location, product_id) == (0, 0)


async def test_a_sale_never_takes_reserved_units_and_says_how_many_it_would_have(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], stock={location: (5, 3)})
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        payload = await record(client, till, [movement(code, store_id, "SALE", 4)])
    [short] = payload["shortfalls"]
    assert (short["applied"], short["unknownUnits"], short["reservedUnits"]) == (-2, 0, 2)
    assert await level(db, location, product_id) == (3, 3)


async def test_a_count_applies_as_of_its_time_and_never_undoes_later_movements(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        await record(client, till, [movement(code, store_id, "SALE", 2, occurredAt=ago(10))])
        assert await level(db, location, product_id) == (8, 0)
        # Counted 20 at -30 min, arriving after the sale at -10: the sale stays applied.
        await record(client, till, [movement(code, store_id, "COUNT", 20, occurredAt=ago(30))])
        assert await level(db, location, product_id) == (18, 0)
        # A count older than that count changes nothing; so does a sale the count saw.
        older = await record(
            client,
            till,
            [
                movement(code, store_id, "COUNT", 100, occurredAt=ago(40)),
                movement(code, store_id, "SALE", 5, occurredAt=ago(35)),
            ],
        )
        assert older["applied"] == 2
        assert await level(db, location, product_id) == (18, 0)
        await record(client, till, [movement(code, store_id, "COUNT", 4, occurredAt=ago(1))])
    assert await level(db, location, product_id) == (4, 0)
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []


async def test_a_call_applies_in_occurred_at_order_not_in_the_order_sent(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=0)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        payload = await record(
            client,
            till,
            [
                movement(code, store_id, "SALE", 5, occurredAt=ago(1)),
                movement(code, store_id, "COUNT", 3, occurredAt=ago(2)),
            ],
        )
    # Counted 3 first, then the sale of 5 took those 3: two units were never known.
    assert [(s["index"], s["applied"], s["unknownUnits"]) for s in payload["shortfalls"]] == [
        (0, -3, 2)
    ]
    assert await level(db, location, product_id) == (0, 0)


async def test_a_transfer_pairs_an_out_and_an_in_by_its_transfer_id(
    db: Database, tmp_path: Path
) -> None:
    oslo, oslo_location = await add_store(db, "OSL")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    pid = await add_product(db, gtins=[code], stock={oslo_location: (2, 0), online: (10, 0)})
    warehouse = await add_device(db, "OSL", "warehouse")
    async with client_for(db, tmp_path) as client:
        out = movement(code, None, "TRANSFER_OUT", 4, transferId="T-1")
        sent = await record(client, warehouse, [out])
        wrong = await record(
            client,
            warehouse,
            [
                movement(code, oslo, "TRANSFER_IN", 5, transferId="T-1"),
                movement(code, None, "TRANSFER_OUT", 4, transferId="T-1"),
                movement(code, oslo, "RECEIPT", 4, transferId="T-1"),
                movement(code, oslo, "TRANSFER_IN", 4),
            ],
        )
        arrived = await record(
            client, warehouse, [movement(code, oslo, "TRANSFER_IN", 4, transferId="T-1")]
        )
    assert sent["applied"] == 1 and arrived["applied"] == 1
    assert [(r["index"], r["code"], r["message"]) for r in wrong["rejected"]] == [
        (0, "CONFLICT", "Transfer 'T-1': its other half moves another product or quantity."),
        (1, "CONFLICT", "Transfer 'T-1': it already has a TRANSFER_OUT."),
        (2, "INVALID_INPUT", "Only TRANSFER_OUT and TRANSFER_IN take a transferId."),
        (3, "INVALID_INPUT", "A transfer needs a transferId (1 to 100 characters)."),
    ]
    assert await level(db, online, pid) == (6, 0)
    assert await level(db, oslo_location, pid) == (6, 0)


async def test_codes_in_any_printed_form_and_the_chains_own_codes_find_the_product(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL")
    pid = await add_product(db, gtins=["0036000291452"], stock={location: (10, 0)})
    own = "2012345000018"  # a restricted-circulation number the chain put in the catalog
    own_pid = await add_product(db, stock={location: (10, 0)})
    async with db.transaction() as session:
        session.add(ProductBarcode(product_id=own_pid, gtin="0" + own, is_primary=False))
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        payload = await record(
            client,
            till,
            [
                movement("036000291452", store_id, "SALE", 1),  # UPC-A of the EAN-13
                movement("0 036000 291452", store_id, "SALE", 1),
                movement(own, store_id, "SALE", 2),
            ],
        )
    assert (payload["applied"], payload["rejected"]) == (3, [])
    assert await level(db, location, pid) == (8, 0)
    assert await level(db, location, own_pid) == (8, 0)


async def test_malformed_movements_get_typed_errors(db: Database, tmp_path: Path) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    cases = [
        movement(code, store_id, "SALE", -1),
        movement(code, store_id, "ADJUSTMENT", 0),
        movement(code, store_id, "COUNT", -1),
        movement(code, store_id, "SALE", 1, occurredAt="2026-12-01T10:00:00"),
        movement(code, store_id, "SALE", 1, occurredAt=ago(-60)),
        movement(code, store_id, "SALE", 1, movementId="x" * 101),
        movement(code, store_id, "SALE", 1, receiptNumber=""),
    ]
    async with client_for(db, tmp_path) as client:
        payload = await record(client, till, cases)
        too_many = await graphql(
            client,
            RECORD_ONLY_ERRORS,
            {"input": {"movements": [movement(code, store_id, "SALE", 1) for _ in range(1001)]}},
            {"Authorization": f"Bearer {till}"},
        )
    assert [(r["code"], r["field"]) for r in payload["rejected"]] == [
        ("INVALID_QUANTITY", "quantity"),
        ("INVALID_QUANTITY", "quantity"),
        ("INVALID_QUANTITY", "quantity"),
        ("INVALID_INPUT", "occurredAt"),
        ("INVALID_INPUT", "occurredAt"),
        ("INVALID_INPUT", "movementId"),
        ("INVALID_INPUT", "receiptNumber"),
    ]
    assert too_many["data"]["stockMovementsRecord"] == {  # type: ignore[index]
        "applied": 0,
        "errors": [
            {
                "code": "INVALID_INPUT",
                "field": "movements",
                "message": "Send at most 1000 movements a call; split the rest.",
            }
        ],
    }


async def test_the_stock_check_finds_drift_and_the_ledger_explains_order_pickups(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        await record(client, till, [movement(code, store_id, "SALE", 1)])
    async with db.transaction() as session:
        await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == location, StockLevel.product_id == product_id)
            .values(on_hand=50)
        )
    async with db.transaction(write=False) as session:
        [drift] = (await check_stock(session)).drifts
    assert (drift.on_hand, drift.history, drift.reserved, drift.held) == (50, 9, 0, 0)


CLAIM = """
mutation Claim($input: CartHandoffClaimInput!) {
  cartHandoffClaim(input: $input) { cart { id } errors { code message } }
}
"""
HANDOFF = """
mutation Handoff($input: CartHandoffCreateInput!) { cartHandoffCreate(input: $input) { code } }
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { order { id } errors { code message } }
}
"""


async def test_tills_and_warehouse_systems_neither_claim_carts_nor_place_orders(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=10)
    till = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'pos')}"}
    warehouse = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'warehouse')}"}
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        claims = []
        for device in (till, warehouse):
            issued = await graphql(client, HANDOFF, {"input": {"cartId": cart_id}}, phone)
            variables = {"input": {"code": issued["data"]["cartHandoffCreate"]["code"]}}  # type: ignore[index]
            claims.append((await graphql(client, CLAIM, variables, device))["data"])
        own_cart, _ = await new_cart(client, till)
        collect = {"clickAndCollect": {"storeId": encode_id("Store", store_id)}}
        order = {"cartId": own_cart, "expectedVersion": 1, "fulfilment": collect}
        placed = await graphql(client, CHECKOUT, {"input": order}, till)
    refused = {
        "cart": None,
        "errors": [
            {
                "code": "UNAUTHORIZED",
                "message": "Only a kiosk or staff device can pick up a cart with a code.",
            }
        ],
    }
    assert claims == [{"cartHandoffClaim": refused}] * 2
    assert placed["data"]["checkout"] == {  # type: ignore[index]
        "order": None,
        "errors": [PLACED_BY_TILL],
    }


PLACED_BY_TILL = {
    "code": "UNAUTHORIZED",
    "message": "Tills and warehouse systems do not place orders.",
}
