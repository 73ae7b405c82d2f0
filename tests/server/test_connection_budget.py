"""The workers' pools against what PostgreSQL admits: read from the server, warned at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from server.config import Settings
from server.connection_budget import admitted_connections, over_budget
from server.db import Database
from tests.clients import settings_for
from tests.conftest import LimitedPostgres

# PostgreSQL's defaults: max_connections 100, of which superuser_reserved_connections 3.
DEFAULT_SERVER_ADMITS = 100 - 3


async def _server_settings(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT current_setting('max_connections')::int, "
            "current_setting('superuser_reserved_connections')::int"
        )
    finally:
        await conn.close()
    assert row is not None
    return row[0], row[1]


def test_the_default_pools_let_two_workers_and_more_fit_a_default_server() -> None:
    fields = Settings.model_fields
    settings = Settings(
        db_pool_size=fields["db_pool_size"].default,
        db_max_overflow=fields["db_max_overflow"].default,
    )
    assert (settings.db_pool_size, settings.db_max_overflow) == (5, 5)
    assert settings.db_connections_per_worker == 32
    assert 3 * settings.db_connections_per_worker <= DEFAULT_SERVER_ADMITS


async def test_a_role_limit_below_the_workers_pools_is_a_warning_naming_the_settings(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    settings = settings_for(limited_postgres.db, tmp_path)
    warning = await over_budget(limited_postgres.db, settings, workers=2)
    assert warning == (
        "2 workers may open up to 2 × 32 = 64 PostgreSQL connections (4 × OMNICART_DB_POOL_SIZE "
        "5 + OMNICART_DB_MAX_OVERFLOW 5 + 7 each), but the server admits 2 (the role's "
        "CONNECTION LIMIT 2): under a burst requests will answer SERVICE_UNAVAILABLE. Lower "
        "OMNICART_DB_POOL_SIZE or OMNICART_DB_MAX_OVERFLOW (or --workers), or raise the "
        "limit; see docs/operations.md."
    )


@pytest.mark.parametrize("limited_postgres", [-1], indirect=True)  # -1: no role limit
async def test_without_a_role_limit_the_server_admits_max_connections_less_reserved(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    db = limited_postgres.db
    max_connections, reserved = await _server_settings(limited_postgres.dsn)
    allowance = await admitted_connections(db)
    assert (allowance.limit, allowance.reason) == (
        max_connections - reserved,
        f"max_connections {max_connections} less {reserved} reserved for superusers",
    )
    fitting = (max_connections - reserved) // 32
    settings = settings_for(db, tmp_path)
    assert await over_budget(db, settings, workers=fitting) is None
    assert await over_budget(db, settings, workers=fitting + 1) is not None


async def test_a_database_limit_below_the_roles_is_the_one_named(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    db = limited_postgres.db
    admin = await asyncpg.connect(limited_postgres.dsn)
    try:
        name = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'ALTER DATABASE "{name}" CONNECTION LIMIT 1')  # as its owner
    finally:
        await admin.close()
    allowance = await admitted_connections(db)
    assert (allowance.limit, allowance.reason) == (1, "the database's CONNECTION LIMIT 1")


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_superuser_is_held_to_max_connections_alone(db: Database) -> None:
    allowance = await admitted_connections(db)
    assert allowance.reason == f"max_connections {allowance.limit}"


async def test_sqlite_has_no_connection_budget(sqlite_db: Database, tmp_path: Path) -> None:
    assert await over_budget(sqlite_db, settings_for(sqlite_db, tmp_path), workers=64) is None


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_burst_above_the_pool_keeps_its_connections_and_stays_under_the_ceiling(
    db: Database,
) -> None:
    """Connections a burst opened beyond the pool size stay for the next burst (no new
    PostgreSQL backend each time), and pool size + max overflow is still the most at once."""
    pooled = Database(db.url, pool_size=2, max_overflow=2)
    backends: set[int] = set()
    at_once = most = 0

    async def hold(seconds: float) -> None:
        nonlocal at_once, most
        async with pooled.transaction() as session:
            backends.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            at_once += 1
            most = max(most, at_once)
            await asyncio.sleep(seconds)
            at_once -= 1

    try:
        for _ in range(8):
            await asyncio.gather(*(hold(0.02) for _ in range(6)))  # a burst beyond the ceiling
            await hold(0)  # then one request alone
    finally:
        await pooled.dispose()
    assert most == 4
    assert len(backends) == 4
