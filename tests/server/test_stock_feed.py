"""The NDJSON stock feed: ``POST /stock/movements`` and ``omnicart stock import|check``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from typer.testing import CliRunner

from server.cli import app
from server.database_broker import DatabaseBroker
from server.db import Database
from server.events import DATABASE_BROKER, PRODUCTS_TOPIC
from server.models import StaffAuditEntry, StockLevel, StockMovement
from tests.clients import client_for
from tests.rows import add_device, fresh_ean13, store_with_product
from tests.stock_helpers import ago, level, movement


def ndjson(rows: list[Any]) -> bytes:
    """Return one JSON document a line (strings are sent as they are)."""
    return b"".join(
        (row if isinstance(row, str) else json.dumps(row)).encode() + b"\n" for row in rows
    )


async def omnicart(
    db: Database, tmp_path: Path, *args: str, broker_url: str = ""
) -> tuple[int, str, str]:
    """Run the command line in a thread (it runs its own event loop) against ``db``."""
    env = {"OMNICART_DATABASE_URL": db.url, "OMNICART_DATA_DIR": str(tmp_path)}
    if broker_url:
        env["OMNICART_BROKER_URL"] = broker_url
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


async def test_the_feed_applies_good_lines_and_names_the_rejected_ones(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    warehouse = await add_device(db, "OSL", "warehouse")
    sale = movement(code, store_id, "SALE", 20, occurredAt=ago(3))
    body = ndjson(
        [
            movement(code, store_id, "RECEIPT", 5, occurredAt=ago(5)),
            "not json",
            {**movement(code, store_id, "SALE", 1), "quantity": "1"},
            "",
            sale,
            movement(fresh_ean13(), store_id, "SALE", 1),
            {**movement(code, store_id, "SALE", 1), "colour": "red"},
        ]
    )
    headers = {"Authorization": f"Bearer {warehouse}", "Content-Type": "application/x-ndjson"}
    async with client_for(db, tmp_path) as client:
        response = await client.post("/stock/movements", content=body, headers=headers)
        again = await client.post("/stock/movements", content=body, headers=headers)
    assert response.status_code == 200
    report = response.json()
    assert {k: report[k] for k in ("lines", "applied", "replayed", "rejected", "shortfalls")} == {
        "lines": 7, "applied": 2, "replayed": 0, "rejected": 4, "shortfalls": 1,
    }  # fmt: skip
    assert [(r["line"], r["code"], r["field"]) for r in report["rejectedLines"]] == [
        (2, "INVALID_INPUT", None),
        (3, "INVALID_INPUT", "quantity"),
        (7, "INVALID_INPUT", "colour"),
        (6, "NOT_FOUND", "gtin"),
    ]
    assert report["rejectedLines"][1]["message"] == "quantity must be a whole number."
    # Received 5 (15 on hand), then sold 20: five were never known to the system.
    assert report["shortfallLines"] == [
        {"line": 5, "movementId": sale["movementId"], "requested": 20, "applied": -15,
         "unknownUnits": 5, "reservedUnits": 0}
    ]  # fmt: skip
    assert (again.json()["applied"], again.json()["replayed"]) == (0, 2)
    assert await level(db, location, product_id) == (0, 0)


async def test_the_feed_takes_the_device_token_and_only_integration_devices(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    kiosk = await add_device(db, "OSL", "kiosk")
    body = ndjson([movement(code, store_id, "SALE", 1)])
    async with client_for(db, tmp_path) as client:
        refused = [
            await client.post("/stock/movements", content=body, headers=headers)
            for headers in ({"Authorization": f"Bearer {kiosk}"}, {})
        ]
    for response in refused:
        assert response.status_code == 403
        assert response.json() == {
            "error": {
                "code": "UNAUTHORIZED",
                "message": "Only till (pos) and warehouse devices record stock movements.",
                "field": None,
            }
        }
    assert await level(db, location, product_id) == (10, 0)


async def test_a_feed_larger_than_the_graphql_body_limit_streams_in_batches(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(sqlite_db, "OSL", on_hand=5000)
    till = await add_device(sqlite_db, "OSL", "pos")
    rows = [movement(code, store_id, "SALE", 1, receiptNumber=f"R-{i}") for i in range(2500)]
    body = ndjson(rows)
    assert len(body) > 256 * 1024
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/stock/movements", content=body, headers={"Authorization": f"Bearer {till}"}
        )
        graphql_sized = await client.post("/graphql", content=body)
    assert (response.status_code, response.json()["applied"]) == (200, 2500)
    assert graphql_sized.status_code == 413
    assert await level(sqlite_db, location, product_id) == (2500, 0)


async def test_stock_import_applies_a_file_once_and_reads_store_codes(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(sqlite_db, "OSL", on_hand=10)
    rows = [
        {**movement(code, None, "RECEIPT", 4), "storeId": "OSL"},
        movement(code, store_id, "SALE", 1, occurredAt=ago(2)),
        {**movement(code, None, "SALE", 1), "storeId": "NOPE"},
    ]
    path = tmp_path / "nightly.ndjson"
    path.write_bytes(ndjson(rows))
    first = await omnicart(sqlite_db, tmp_path, "stock", "import", str(path))
    second = await omnicart(sqlite_db, tmp_path, "stock", "import", str(path))
    assert first[0] == 1  # a line was rejected
    assert "3 lines: 2 applied, 0 already recorded, 1 rejected, 0 short." in first[2]
    assert first[1].endswith(
        f"line 3 ({rows[2]['movementId']}): INVALID_INPUT storeId: "
        "No store has the id or code 'NOPE'.\n"
    )
    assert "3 lines: 0 applied, 2 already recorded, 1 rejected, 0 short." in second[2]
    assert await level(sqlite_db, location, product_id) == (13, 0)


async def test_stock_check_reports_drift_and_fix_repairs_it_with_an_audit_row(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(sqlite_db, "OSL", on_hand=10)
    till = await add_device(sqlite_db, "OSL", "pos")
    async with client_for(sqlite_db, tmp_path) as client:
        await client.post(
            "/stock/movements",
            content=ndjson([movement(code, store_id, "SALE", 3)]),
            headers={"Authorization": f"Bearer {till}"},
        )
    clean = await omnicart(sqlite_db, tmp_path, "stock", "check")
    assert clean[0] == 0
    assert "Checked 1 stock rows (1 with history): 0 drift." in clean[2]
    async with sqlite_db.transaction() as session:
        await session.execute(
            update(StockLevel)
            .where(StockLevel.location_id == location)
            .values(on_hand=40, reserved=2)
        )
    drift = await omnicart(sqlite_db, tmp_path, "stock", "check")
    assert drift[0] == 1
    assert "1 drift." in drift[2]
    assert "LOC-OSL" in drift[1]
    fixed = await omnicart(sqlite_db, tmp_path, "stock", "check", "--fix")
    assert fixed[0] == 0 and "Repaired 1 row(s)." in fixed[2]
    assert await level(sqlite_db, location, product_id) == (7, 0)
    after = await omnicart(sqlite_db, tmp_path, "stock", "check")
    assert after[0] == 0
    async with sqlite_db.transaction(write=False) as session:
        [entry] = (await session.execute(select(StaffAuditEntry))).scalars().all()
    assert (entry.action, entry.subject_id) == ("stock.repair", product_id)
    assert entry.details == {
        "location": "LOC-OSL",
        "before": {"onHand": 40, "reserved": 2},
        "after": {"onHand": 7, "reserved": 0},
        "history": 7,
        "by": "omnicart stock check --fix",
    }


async def test_a_catalog_imports_stock_figure_is_a_count_in_a_locations_history(
    db: Database, tmp_path: Path
) -> None:
    from server.importer import import_catalog
    from server.stock.reconcile import check_stock

    store_id, location, code, product_id = await store_with_product(db, "OSL", on_hand=10)
    till = await add_device(db, "OSL", "pos")
    async with client_for(db, tmp_path) as client:
        await client.post(
            "/stock/movements",
            content=ndjson([movement(code, store_id, "SALE", 3)]),
            headers={"Authorization": f"Bearer {till}"},
        )
    path = tmp_path / "catalog.jsonl"
    path.write_text(
        json.dumps({"code": code, "product_name": "Test product", "brands": "Testbrand",
                    "categories": ["en:food"], "stock": {"OSL": 25}}) + "\n"
    )  # fmt: skip
    report = await import_catalog(db, path, currency="NOK", report_path=tmp_path / "r.csv")
    assert report.rejected == 0, report
    assert await level(db, location, product_id) == (25, 0)
    async with db.transaction(write=False) as session:
        assert (await check_stock(session)).drifts == []
        rows = (
            await session.execute(
                select(StockMovement.source, StockMovement.kind, StockMovement.quantity,
                       StockMovement.applied).order_by(StockMovement.id)
            )
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("OPENING", "COUNT", 10, 10),
        ("DEVICE", "SALE", 3, -3),
        ("CATALOG", "COUNT", 25, 18),
    ]


async def test_a_till_added_on_the_command_line_feeds_stock_with_its_token(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, location, code, product_id = await store_with_product(sqlite_db, "OSL", on_hand=10)
    status, token, err = await omnicart(
        sqlite_db, tmp_path, "device", "add", "--store", "OSL", "--kind", "pos", "--name", "Till 7"
    )
    assert status == 0, err
    assert "Added pos device" in err and "(Till 7) to OSL." in err
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/stock/movements",
            content=ndjson([movement(code, store_id, "SALE", 4)]),
            headers={"Authorization": f"Bearer {token.strip()}"},
        )
    assert (response.status_code, response.json()["applied"]) == (200, 1)
    assert await level(sqlite_db, location, product_id) == (6, 0)


async def test_stock_import_announces_its_products_to_the_servers_before_it_exits(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store_id, _, code, product_id = await store_with_product(sqlite_db, "OSL", on_hand=10)
    path = tmp_path / "receipt.ndjson"
    path.write_bytes(ndjson([movement(code, store_id, "RECEIPT", 4)]))
    server = DatabaseBroker(sqlite_db)
    try:
        async with server.subscribe(PRODUCTS_TOPIC) as notices:
            exit_code, _, _ = await omnicart(
                sqlite_db, tmp_path, "stock", "import", str(path), broker_url=DATABASE_BROKER
            )
            heard = await asyncio.wait_for(anext(notices), 10)
    finally:
        await server.close()
    assert (exit_code, heard) == (0, {"productIds": [product_id]})
