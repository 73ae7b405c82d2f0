"""The product page over HTTP: lookup by any barcode form, price, availability, scan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import event, func, select

from server.db import Database
from server.gtin import parse_gtin
from server.models import (
    ProductBarcode,
    ProductBarcodeStore,
    ScanEvent,
    StockLevel,
    StoreItemCode,
    utcnow,
)
from tests.clients import client_for, graphql
from tests.documents import SCAN
from tests.rows import add_campaign, add_online_warehouse, add_product, add_store, fresh_ean13

PRODUCT_PAGE = """
query Page($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    id gtin gtins name brand
    price { regular { amount currency formatted } current { amount } campaign { name } }
    availability(storeId: $storeId) {
      here { available status store { code } }
      online { available status online }
      stores { available status store { code } }
    }
    barcodeUrl
  }
}
"""


OWN_CODE = """
query Own($gtin: String!, $storeId: ID) { product(gtin: $gtin, storeId: $storeId) { name gtins } }
"""

OWN_CODES = """
query Own($gtins: [String!]!, $storeId: ID) { products(gtins: $gtins, storeId: $storeId) { name } }
"""

LABEL_SCAN = """
mutation Scan($input: ScanInput!) {
  scan(input: $input) {
    product { name } gtin label { itemNumber weightGrams price { amount currency } }
    errors { code field message }
  }
}
"""

PRODUCTS = """
query Many($gtins: [String!]!, $storeId: ID) {
  products(gtins: $gtins) {
    name gtins
    price { current { amount } campaign { name } }
    availability(storeId: $storeId) {
      here { available } online { available } stores { available store { name } }
    }
  }
}
"""

STORES = "{ stores { id code name } }"


async def test_upc_a_scan_finds_product_stored_under_its_ean13(
    db: Database, tmp_path: Path
) -> None:
    await add_product(db, gtins=["0036000291452"], name="Kleenex")
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, PRODUCT_PAGE, {"gtin": "036000291452"})
    assert body["data"]["product"]["name"] == "Kleenex"
    assert body["data"]["product"]["gtin"] == "0036000291452"


async def test_ean8_padded_to_thirteen_digits_finds_the_same_product(
    db: Database, tmp_path: Path
) -> None:
    await add_product(db, gtins=["59032823"], name="Short code")
    async with client_for(db, tmp_path) as client:
        padded = await graphql(client, PRODUCT_PAGE, {"gtin": "0000059032823"})
        short = await graphql(client, PRODUCT_PAGE, {"gtin": "5903-2823"})
    assert padded["data"]["product"]["name"] == "Short code"
    assert short["data"]["product"]["id"] == padded["data"]["product"]["id"]
    assert padded["data"]["product"]["gtin"] == "59032823"


async def test_bad_check_digit_is_an_invalid_gtin_error(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, PRODUCT_PAGE, {"gtin": "7038010009452"})
    assert body["data"] == {"product": None}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_GTIN"
    assert "check digit" in body["errors"][0]["message"]


async def test_unknown_well_formed_code_is_null(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, PRODUCT_PAGE, {"gtin": fresh_ean13()})
    assert body == {"data": {"product": None}}


async def test_availability_matches_the_stock_table(db: Database, tmp_path: Path) -> None:
    oslo, oslo_loc = await add_store(db, "OSL", "Oslo Storo")
    bergen, bergen_loc = await add_store(db, "BGO", "Bergen Lagunen")
    online = await add_online_warehouse(db)
    code = fresh_ean13()
    await add_product(
        db, gtins=[code], stock={oslo_loc: (10, 3), bergen_loc: (2, 2), online: (40, 0)}
    )
    async with client_for(db, tmp_path) as client:
        stores = await graphql(client, STORES)
        oslo_id = next(s["id"] for s in stores["data"]["stores"] if s["code"] == "OSL")
        body = await graphql(client, PRODUCT_PAGE, {"gtin": code, "storeId": oslo_id})
    availability = body["data"]["product"]["availability"]
    assert availability["here"] == {"available": 7, "status": "IN_STOCK", "store": {"code": "OSL"}}
    assert availability["online"] == {"available": 40, "status": "IN_STOCK", "online": True}
    assert availability["stores"] == [
        {"available": 0, "status": "OUT_OF_STOCK", "store": {"code": "BGO"}},
        {"available": 7, "status": "IN_STOCK", "store": {"code": "OSL"}},
    ]
    async with db.transaction(write=False) as session:
        on_hand, reserved = (
            await session.execute(
                select(func.sum(StockLevel.on_hand), func.sum(StockLevel.reserved))
            )
        ).one()
    total_shown = (
        sum(s["available"] for s in availability["stores"]) + availability["online"]["available"]
    )
    # Bergen has 2 on hand and 2 reserved: nothing to sell there.
    assert total_shown == on_hand - reserved == 47


async def test_low_stock_is_flagged(db: Database, tmp_path: Path) -> None:
    _, loc = await add_store(db, "TRD")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={loc: (3, 0)})
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, PRODUCT_PAGE, {"gtin": code})
    assert body["data"]["product"]["availability"]["stores"][0]["status"] == "LOW_STOCK"


async def test_campaign_price_applies_only_inside_its_window(db: Database, tmp_path: Path) -> None:
    now = utcnow()
    running, ended, future = fresh_ean13(), fresh_ean13(), fresh_ean13()
    for code in (running, ended, future):
        pid = await add_product(db, gtins=[code], price=5000)
        if code == running:
            await add_campaign(
                db, pid, 3990, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
            )
        elif code == ended:
            await add_campaign(
                db, pid, 3990, starts_at=now - timedelta(days=9), ends_at=now - timedelta(seconds=1)
            )
        else:
            await add_campaign(db, pid, 3990, starts_at=now + timedelta(hours=1), ends_at=None)
    async with client_for(db, tmp_path) as client:
        prices = {
            code: (await graphql(client, PRODUCT_PAGE, {"gtin": code}))["data"]["product"]["price"]
            for code in (running, ended, future)
        }
    assert prices[running] == {
        "regular": {"amount": 5000, "currency": "NOK", "formatted": "50,00\u00a0kr"},
        "current": {"amount": 3990},
        "campaign": {"name": "Ukens tilbud"},
    }
    assert prices[ended]["current"] == {"amount": 5000} and prices[ended]["campaign"] is None
    assert prices[future]["current"] == {"amount": 5000} and prices[future]["campaign"] is None


async def test_scan_records_the_event_and_returns_the_product(db: Database, tmp_path: Path) -> None:
    store_id, loc = await add_store(db, "OSL")
    code = fresh_ean13()
    product_id = await add_product(db, gtins=[code], name="Brunost", stock={loc: (0, 0)})
    async with client_for(db, tmp_path) as client:
        stores = await graphql(client, STORES)
        body = await graphql(
            client,
            SCAN,
            {
                "input": {
                    "code": f" {code[:4]} {code[4:]} ",
                    "storeId": stores["data"]["stores"][0]["id"],
                }
            },
        )
    assert body["data"]["scan"] == {"product": {"name": "Brunost"}, "gtin": code, "errors": []}
    async with db.transaction(write=False) as session:
        events = (await session.execute(select(ScanEvent))).scalars().all()
    assert [(e.product_id, e.store_id, e.device_kind, e.available_here) for e in events] == [
        (product_id, store_id, "phone", False)
    ]


async def test_scan_of_a_malformed_code_reports_and_records_nothing(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, SCAN, {"input": {"code": "70380A0009457"}})
    assert body["data"]["scan"]["errors"][0]["code"] == "INVALID_GTIN"
    assert body["data"]["scan"]["product"] is None
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(func.count(ScanEvent.id)))).scalar_one() == 0


async def test_a_list_of_products_costs_a_fixed_number_of_queries(
    db: Database, tmp_path: Path
) -> None:
    _, loc_a = await add_store(db, "A")
    _, loc_b = await add_store(db, "B")
    online = await add_online_warehouse(db)
    codes = []
    for i in range(50):
        code = fresh_ean13()
        codes.append(code)
        pid = await add_product(
            db, gtins=[code], stock={loc_a: (i, 0), loc_b: (1, 0), online: (5, 1)}
        )
        if i % 5 == 0:
            await add_campaign(db, pid, 1000, starts_at=None, ends_at=None)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    async with client_for(db, tmp_path) as client:
        # Read-only operations on PostgreSQL run on the autocommit engine (no BEGIN/COMMIT).
        engines = [db.engine.sync_engine]
        if not db.is_sqlite:
            engines.append(db.autocommit_reads().sync_engine)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            few = await graphql(client, PRODUCTS, {"gtins": codes[:2]})
            few_count = len(statements)
            statements.clear()
            many = await graphql(client, PRODUCTS, {"gtins": codes})
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
    assert len(few["data"]["products"]) == 2
    assert len(many["data"]["products"]) == 50
    assert [p["name"] for p in many["data"]["products"]] == ["Test product"] * 50
    # products, barcodes, prices, campaign prices, stock, stores: the same for 2 or 50.
    assert len(statements) == few_count == 6


async def test_sibling_top_level_fields_share_the_operation(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], name="Fiskekaker")
    query = """
    query($g: String!) { stores { code } product(gtin: $g) { name } again: stores { name } }
    """
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, query, {"g": code})
    assert body == {
        "data": {
            "stores": [{"code": "OSL"}],
            "product": {"name": "Fiskekaker"},
            "again": [{"name": "Store OSL"}],
        }
    }


# -- the chain's own codes (restricted circulation numbers) ---------------------------------


async def limit_code(db: Database, code: str, *store_ids: int) -> None:
    """Limit a product's own code to these stores."""
    async with db.transaction() as session:
        barcode_id = (
            await session.execute(
                select(ProductBarcode.id).where(ProductBarcode.gtin == parse_gtin(code).digits)
            )
        ).scalar_one()
        session.add_all(ProductBarcodeStore(barcode_id=barcode_id, store_id=s) for s in store_ids)


async def map_item(db: Database, store_id: int, item_number: str, product_id: int) -> None:
    """Say which product a store's label item number is."""
    async with db.transaction() as session:
        session.add(
            StoreItemCode(store_id=store_id, item_number=item_number, product_id=product_id)
        )


async def store_ids(client: httpx.AsyncClient) -> dict[str, str]:
    body = await graphql(client, STORES)
    return {s["code"]: s["id"] for s in body["data"]["stores"]}


async def test_an_own_code_in_the_catalog_is_that_product(db: Database, tmp_path: Path) -> None:
    # 20… is also the prefix of the default price-label template: the catalog comes first.
    bread, rcn8 = fresh_ean13("20"), "21234569"
    await add_product(db, gtins=[bread], name="Grovbrød")
    await add_product(db, gtins=[rcn8], name="Wienerbrød")
    async with client_for(db, tmp_path) as client:
        one = await graphql(client, OWN_CODE, {"gtin": bread})
        many = await graphql(client, OWN_CODES, {"gtins": [bread, "0000021234569"]})
        scan = await graphql(client, SCAN, {"input": {"code": rcn8}})
    assert one == {"data": {"product": {"name": "Grovbrød", "gtins": [bread]}}}
    assert many == {"data": {"products": [{"name": "Grovbrød"}, {"name": "Wienerbrød"}]}}
    assert scan["data"]["scan"] == {"product": {"name": "Wienerbrød"}, "gtin": rcn8, "errors": []}


async def test_a_store_limited_own_code_is_its_product_only_there(
    db: Database, tmp_path: Path
) -> None:
    storo, _ = await add_store(db, "OSL")
    await add_store(db, "BGO")
    deli = fresh_ean13("26")  # no default template reads 26…
    await add_product(db, gtins=[deli], name="Skinke fra disken")
    await limit_code(db, deli, storo)
    async with client_for(db, tmp_path) as client:
        stores = await store_ids(client)
        here = await graphql(client, OWN_CODE, {"gtin": deli, "storeId": stores["OSL"]})
        anywhere = await graphql(client, OWN_CODE, {"gtin": deli})
        elsewhere = await graphql(client, OWN_CODE, {"gtin": deli, "storeId": stores["BGO"]})
        scan = await graphql(client, SCAN, {"input": {"code": deli, "storeId": stores["BGO"]}})
    assert here["data"]["product"]["name"] == "Skinke fra disken"
    assert anywhere["data"]["product"]["name"] == "Skinke fra disken"
    assert elsewhere["data"] == {"product": None}
    message = (
        f"The barcode {deli} is one of the chain's own codes (restricted circulation number), "
        "but no product carries it and no price or weight label template reads it."
    )
    assert [(e["extensions"]["code"], e["message"]) for e in elsewhere["errors"]] == [
        ("INVALID_GTIN", message)
    ]
    assert scan["data"]["scan"] == {
        "product": None, "gtin": None, "errors": [
            {"code": "INVALID_GTIN", "field": None, "message": message}
        ],
    }  # fmt: skip
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(func.count(ScanEvent.id)))).scalar_one() == 0


async def test_a_weight_label_for_an_item_number_reads_its_weight(
    db: Database, tmp_path: Path
) -> None:
    storo, _ = await add_store(db, "OSL")
    mince = await add_product(db, name="Kjøttdeig")
    await map_item(db, storo, "12345", mince)
    label = "2312345012340"  # 23: weight in grams, item 12345, 1234 g
    async with client_for(db, tmp_path) as client:
        stores = await store_ids(client)
        scan = await graphql(
            client, LABEL_SCAN, {"input": {"code": label, "storeId": stores["OSL"]}}
        )
        page = await graphql(client, OWN_CODE, {"gtin": label, "storeId": stores["OSL"]})
        nowhere = await graphql(client, OWN_CODE, {"gtin": label})
    assert scan["data"]["scan"] == {
        "product": {"name": "Kjøttdeig"}, "gtin": None,
        "label": {"itemNumber": "12345", "weightGrams": 1234, "price": None}, "errors": [],
    }  # fmt: skip
    assert page["data"]["product"]["name"] == "Kjøttdeig"
    assert nowhere == {"data": {"product": None}}  # no store: no store's item numbers
    async with db.transaction(write=False) as session:
        events = (await session.execute(select(ScanEvent))).scalars().all()
    assert [(e.code, e.gtin, e.product_id, e.store_id) for e in events] == [
        (label, None, mince, storo)
    ]


async def test_a_price_label_reads_its_price_for_the_product_with_its_base_code(
    db: Database, tmp_path: Path
) -> None:
    # The catalog carries the label's base code (price digits zeroed): the item in every store.
    await add_product(db, gtins=["2012345000001"], name="Reker i lake")
    async with client_for(db, tmp_path) as client:
        scan = await graphql(client, LABEL_SCAN, {"input": {"code": "2012345012349"}})
    assert scan["data"]["scan"] == {
        "product": {"name": "Reker i lake"}, "gtin": None,
        "label": {"itemNumber": "12345", "weightGrams": None,
                  "price": {"amount": 1234, "currency": "NOK"}},
        "errors": [],
    }  # fmt: skip


async def test_a_label_for_an_unknown_item_is_null(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        page = await graphql(client, OWN_CODE, {"gtin": "2312345012340"})
        scan = await graphql(client, LABEL_SCAN, {"input": {"code": "2312345012340"}})
    assert page == {"data": {"product": None}}
    assert scan["data"]["scan"]["label"] == {
        "itemNumber": "12345",
        "weightGrams": 1234,
        "price": None,
    }
    assert scan["data"]["scan"]["product"] is None


async def test_an_unknown_own_code_no_template_reads_is_invalid_gtin_with_the_reason(
    db: Database, tmp_path: Path
) -> None:
    async with client_for(db, tmp_path) as client:
        one = await graphql(client, OWN_CODE, {"gtin": "2612345678905"})
        many = await graphql(client, OWN_CODES, {"gtins": [fresh_ean13(), "0412345678903"]})
    assert one["data"] == {"product": None}
    assert [(e["extensions"]["code"], e["message"]) for e in one["errors"]] == [
        (
            "INVALID_GTIN",
            "The barcode 2612345678905 is one of the chain's own codes (restricted circulation "
            "number), but no product carries it and no price or weight label template reads it.",
        )
    ]
    assert many["data"] is None
    assert many["errors"][0]["extensions"]["code"] == "INVALID_GTIN"
    assert "0412345678903 is one of the chain's own codes" in many["errors"][0]["message"]
