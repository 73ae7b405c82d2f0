"""Demo sign-in (``server.demo_access``): created once, printable again, revocations kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from server.accounts import list_devices, resolve_viewer, revoke_device
from server.db import Database
from server.demo_access import (
    DEMO_STAFF_EMAIL,
    DEMO_STAFF_PASSWORD,
    demo_kiosk_token,
    ensure_demo_access,
)
from server.models import Device, StaffUser, utcnow
from tests.clients import settings_for
from tests.rows import add_store


async def test_first_call_creates_the_admin_and_a_kiosk_per_store_later_calls_nothing(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL-STORO")
    await add_store(db, "BGO-LAGUNEN")
    settings = settings_for(db, tmp_path, secret_key="demo-secret")

    first = await ensure_demo_access(db, settings)
    again = await ensure_demo_access(db, settings)

    assert first.created == (DEMO_STAFF_EMAIL, "BGO-LAGUNEN demo kiosk", "OSL-STORO demo kiosk")
    assert again.created == ()
    assert (
        first.kiosk_tokens
        == again.kiosk_tokens
        == {
            "BGO-LAGUNEN": demo_kiosk_token("demo-secret", "BGO-LAGUNEN"),
            "OSL-STORO": demo_kiosk_token("demo-secret", "OSL-STORO"),
        }
    )
    assert (first.staff_email, first.staff_password) == (DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD)
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(StaffUser))).scalar() == 1
        devices = await list_devices(session)
        assert [(d.store_code, d.kind, d.name) for d in devices] == [
            ("BGO-LAGUNEN", "kiosk", "BGO-LAGUNEN demo kiosk"),
            ("OSL-STORO", "kiosk", "OSL-STORO demo kiosk"),
        ]
        # Only the hash is stored, never the token.
        stored = (await session.execute(select(Device.token_hash))).scalars().all()
        assert not set(stored) & set(first.kiosk_tokens.values())


async def test_a_revoked_demo_kiosk_stays_revoked_and_is_not_printed(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL-STORO")
    settings = settings_for(db, tmp_path, secret_key="demo-secret")
    token = (await ensure_demo_access(db, settings)).kiosk_tokens["OSL-STORO"]
    async with db.transaction(write=False) as session:
        before = await resolve_viewer(session, bearer=token, cart_token=None, now=utcnow())
        assert before.device is not None and before.device.kind == "kiosk"
    async with db.transaction() as session:
        device = (await list_devices(session, "OSL-STORO"))[0]
        await revoke_device(session, device.id, utcnow())

    after = await ensure_demo_access(db, settings)

    assert (after.kiosk_tokens, after.created) == ({}, ())
    assert "dv_" not in "\n".join(after.lines("http://127.0.0.1:8000"))
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(Device))).scalar() == 1
        viewer = await resolve_viewer(session, bearer=token, cart_token=None, now=utcnow())
        assert viewer.device is None


def test_kiosk_tokens_depend_on_the_secret_key_and_the_store() -> None:
    tokens = {
        demo_kiosk_token("one", "OSL-STORO"),
        demo_kiosk_token("two", "OSL-STORO"),
        demo_kiosk_token("one", "BGO-LAGUNEN"),
    }
    assert len(tokens) == 3
    assert all(t.startswith("dv_") and len(t) == 46 for t in tokens)
