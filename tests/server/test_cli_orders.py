"""``omnicart staff``, ``expire-orders`` and ``report scans`` against real databases."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from omnicart.cli import app
from schema.ids import encode_id
from server.db import Database
from server.models import Order, StaffUser, utcnow
from server.orders.numbers import parse_order_number
from tests.clients import client_for, collect_at, graphql, new_cart, place_order, staff_sign_in
from tests.documents import SCAN
from tests.rows import add_product, add_store, fresh_ean13, stock_figures, store_with_product

ROOT = Path(__file__).resolve().parents[2]


async def omnicart(
    db: Database, tmp_path: Path, *args: str, input: str | None = None
) -> tuple[int, str, str]:
    """Run the command line in a thread (it runs its own event loop) against ``db``."""
    env = {"OMNICART_DATABASE_URL": db.url, "OMNICART_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, list(args), input=input, env=env)
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())


async def test_staff_add_prompts_for_the_password_and_the_account_signs_in(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    code, _, err = await omnicart(
        db,
        tmp_path,
        "staff",
        "add",
        "--email",
        "Ola@Shop.no",
        "--name",
        "Ola Nordmann",
        "--role",
        "staff",
        "--store",
        "OSL",
        input="tablet pass 1\ntablet pass 1\n",
    )
    admin_code, _, admin_err = await omnicart(
        db,
        tmp_path,
        "staff",
        "add",
        "--email",
        "boss@shop.no",
        "--name",
        "Boss",
        "--role",
        "admin",
        "--password-stdin",
        input="admin pass 12\n",
    )
    no_store, _, no_store_err = await omnicart(
        db, tmp_path, "staff", "add", "--email", "x@shop.no", "--name", "X", "--role", "staff",
        "--password-stdin", input="whatever pass\n",
    )  # fmt: skip
    taken, _, taken_err = await omnicart(
        db, tmp_path, "staff", "add", "--email", "ola@shop.no", "--name", "Ola", "--role",
        "staff", "--store", "OSL", "--password-stdin", input="another pass\n",
    )  # fmt: skip
    listed, listing, _ = await omnicart(db, tmp_path, "staff", "list")
    assert code == 0, err
    assert "Added staff 1 Ola Nordmann <ola@shop.no> for store OSL." in one_line(err)
    assert admin_code == 0 and "for every store" in admin_err
    assert no_store == 1 and "Staff work in one store" in no_store_err
    assert taken == 1 and "A staff account with this email exists." in taken_err
    assert listed == 0 and "ola@shop.no" in listing and "boss@shop.no" in listing
    async with db.transaction(write=False) as session:
        hashes = (await session.execute(select(StaffUser.password_hash))).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes)
    async with client_for(db, tmp_path) as client:
        await staff_sign_in(client, "ola@shop.no", "tablet pass 1")
        await staff_sign_in(client, "boss@shop.no", "admin pass 12")


def test_staff_add_reads_the_password_from_stdin_as_a_command(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OMNICART_")},
        "PYTHONPATH": str(ROOT),
        "OMNICART_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "omnicart.cli", "staff", "add", "--email", "a@shop.no",
               "--name", "A", "--role", "admin", "--password-stdin"]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env=env, input="admin pass 12\n", capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Added admin 1 A <a@shop.no> for every store." in one_line(result.stderr)


async def test_expire_orders_expires_overdue_pickups_once(db: Database, tmp_path: Path) -> None:
    store_id, location, code, product_id = await store_with_product(db)
    numbers = []
    async with client_for(db, tmp_path) as client:
        for quantity in (2, 1):
            order, _ = await place_order(client, [(code, quantity)], collect_at(store_id))
            numbers.append(order["number"])
    async with db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == parse_order_number(numbers[0]).order_id)  # type: ignore[union-attr]
            .values(pickup_deadline=utcnow() - timedelta(minutes=1))
        )
    first, out, err = await omnicart(db, tmp_path, "expire-orders")
    second, again, again_err = await omnicart(db, tmp_path, "expire-orders")
    assert first == 0, err
    assert numbers[0] in out and numbers[1] not in out
    assert "Expired 1 order(s); 2 unit(s) are back on sale." in one_line(err)
    assert second == 0 and again == ""
    assert "No click-and-collect order is past its pickup deadline." in again_err
    assert await stock_figures(db, location, product_id) == (5, 1, 1)


async def test_report_scans_prints_tables_and_writes_csv(db: Database, tmp_path: Path) -> None:
    store_id, location = await add_store(db, "OSL", "Oslo Storo")
    stocked, empty = fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[stocked], name="Brunost", stock={location: (5, 0)})
    await add_product(db, gtins=[empty], name="Tomt", stock={location: (0, 0)})
    async with client_for(db, tmp_path) as client:
        cart_id, phone = await new_cart(client)
        for code in (stocked, stocked, empty):
            await graphql(
                client,
                SCAN,
                {"input": {"code": code, "storeId": encode_id("Store", store_id)}},
                phone,
            )
        await graphql(
            client,
            "mutation A($i: CartLinesAddInput!) { cartLinesAdd(input: $i) { replayed } }",
            {"i": {"cartId": cart_id, "lines": [{"gtin": stocked, "quantity": 1}]}},
            phone,
        )
    target = tmp_path / "scans.csv"
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    code, out, err = await omnicart(
        db, tmp_path, "report", "scans", "--store", "OSL", "--since", since, "--csv", str(target)
    )
    unknown, _, unknown_err = await omnicart(
        db, tmp_path, "report", "scans", "--store", "NOPE", "--since", since
    )
    bad_date, _, _ = await omnicart(
        db, tmp_path, "report", "scans", "--store", "OSL", "--since", "yesterday"
    )
    assert code == 0, err
    text = one_line(out)
    assert "Oslo Storo (OSL)" in text
    assert "3 scans, 2 led to a cart line within 30 min (67% of known products)" in text
    assert "Most scanned" in text and "Missed demand" in text
    assert "Brunost" in text and "Tomt" in text
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], r["gtin"], r["name"], r["scans"], r["led_to_cart"]) for r in rows] == [
        ("product", stocked, "Brunost", "2", "2"),
        ("product", empty, "Tomt", "1", "0"),
    ]
    assert [r["out_of_stock_scans"] for r in rows] == ["0", "1"]
    assert f"Wrote 2 row(s) to {target}." in one_line(err)
    assert unknown == 1 and "No store has the code 'NOPE'." in unknown_err
    assert bad_date == 2
