"""``omnicart device add|list|revoke``: tokens printed once, stored hashed, revoked at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from omnicart.cli import app
from server.db import Database
from server.models import Device
from tests.clients import client_for, graphql
from tests.rows import add_store

ME_CART = "query Cart($id: ID!) { cart(id: $id) { id } }"


async def omnicart(db: Database, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run the command line in a thread (it runs its own event loop) against ``db``."""
    env = {"OMNICART_DATABASE_URL": db.url, "OMNICART_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


async def test_device_add_prints_a_token_once_and_keeps_its_hash(
    sqlite_db: Database, tmp_path: Path
) -> None:
    await add_store(sqlite_db, "OSL", "Oslo Storo")
    code, out, err = await omnicart(
        sqlite_db,
        tmp_path,
        "device",
        "add",
        "--store",
        "OSL",
        "--kind",
        "kiosk",
        "--name",
        "Kiosk 1",
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith("dv_") and len(token) > 40
    assert "Kiosk 1" in err and "not shown again" in err
    async with sqlite_db.transaction(write=False) as session:
        device = (await session.execute(select(Device))).scalar_one()
    assert (device.kind, device.name, device.revoked_at) == ("kiosk", "Kiosk 1", None)
    assert token not in device.token_hash


async def test_device_list_and_revoke(sqlite_db: Database, tmp_path: Path) -> None:
    await add_store(sqlite_db, "OSL")
    await add_store(sqlite_db, "BGO")
    _, token, _ = await omnicart(
        sqlite_db, tmp_path, "device", "add", "--store", "OSL", "--kind", "kiosk"
    )
    await omnicart(sqlite_db, tmp_path, "device", "add", "--store", "BGO", "--kind", "staff")
    code, listing, _ = await omnicart(sqlite_db, tmp_path, "device", "list")
    assert code == 0
    assert "OSL kiosk" in listing and "BGO staff" in listing
    code, _, err = await omnicart(sqlite_db, tmp_path, "device", "revoke", "1")
    assert code == 0 and "revoked" in err
    _, only_bgo, _ = await omnicart(sqlite_db, tmp_path, "device", "list", "--store", "BGO")
    assert "BGO staff" in only_bgo and "OSL" not in only_bgo
    async with client_for(sqlite_db, tmp_path) as client:
        body = await graphql(
            client,
            'mutation { cartHandoffClaim(input: {code: "ABCD-EFGH"}) { errors { code } } }',
            headers={"Authorization": f"Bearer {token.strip()}"},
        )
    assert body["data"]["cartHandoffClaim"]["errors"] == [{"code": "UNAUTHORIZED"}]


async def test_device_commands_refuse_unknown_stores_and_devices(
    sqlite_db: Database, tmp_path: Path
) -> None:
    code, out, err = await omnicart(
        sqlite_db, tmp_path, "device", "add", "--store", "NOPE", "--kind", "kiosk"
    )
    assert (code, out) == (1, "")
    assert "No store has the code 'NOPE'" in err
    code, _, err = await omnicart(sqlite_db, tmp_path, "device", "revoke", "42")
    assert code == 1 and "There is no device 42" in err
    code, _, _ = await omnicart(
        sqlite_db, tmp_path, "device", "add", "--store", "OSL", "--kind", "robot"
    )
    assert code == 2
