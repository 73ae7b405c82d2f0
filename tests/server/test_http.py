"""Plain HTTP routes: barcode images, health, readiness and the shared JSON error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from server.db import Database
from tests.clients import client_for
from tests.conftest import LimitedPostgres


async def test_ean13_barcode_svg_is_cached_with_an_etag(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        first = await client.get("/barcodes/7038010009457.svg")
        again = await client.get(
            "/barcodes/7038010009457.svg", headers={"If-None-Match": first.headers["etag"]}
        )
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in first.content
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert again.status_code == 304
    assert again.content == b""


async def test_png_barcode_is_a_png(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.get("/barcodes/036000291452.png")
    assert response.status_code == 200
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_invalid_barcode_image_is_a_readable_400(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.get("/barcodes/7038010009452.svg")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "INVALID_GTIN"
    assert "check digit" in body["error"]["message"]


async def test_unknown_image_format_is_a_400(sqlite_db: Database, tmp_path: Path) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.get("/barcodes/7038010009457.gif")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "INVALID_INPUT",
            "message": "Ask for CODE.svg or CODE.png.",
            "field": "format",
        }
    }


async def test_unknown_path_uses_the_shared_error_shape(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND", "message": "Nothing at /no/such/thing.", "field": None}
    }


async def test_health_and_readiness(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "search": "ok"}}


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with client_for(unreachable, tmp_path) as client:
            response = await client.get("/readyz")
    finally:
        await unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "search": "ok"},
    }


async def test_a_plain_route_out_of_database_connections_is_503_in_the_shared_shape(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    held = await limited_postgres.take_every_slot()
    try:
        async with client_for(limited_postgres.db, tmp_path) as client:
            refused = await client.get("/handoff/K7QM3XPA.svg")
            for connection in held:
                await connection.close()
            served = await client.get("/handoff/K7QM3XPA.svg")
    finally:
        for connection in held:
            await connection.close()
    assert refused.status_code == 503
    assert refused.json() == {
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "message": "A service omnicart depends on cannot be reached right now; "
            "try again shortly.",
            "field": None,
        }
    }
    assert served.status_code == 404
    assert served.json()["error"]["code"] == "NOT_FOUND"


async def test_a_plain_route_bug_of_a_database_kind_stays_a_500(
    sqlite_db: Database, tmp_path: Path
) -> None:
    # A driver error that is no outage (here the image route's table gone) is not disguised.
    async with sqlite_db.transaction() as session:
        await session.execute(text("DROP TABLE cart_handoffs"))
    async with client_for(sqlite_db, tmp_path) as client:
        with pytest.raises(OperationalError, match="no such table"):
            await client.get("/handoff/K7QM3XPA.svg")
