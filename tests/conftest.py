"""Shared fixtures: real migrated databases (SQLite always, PostgreSQL when configured).

PostgreSQL runs read ``OMNICART_TEST_DATABASE_URL`` (e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). The session migrates one template
database, and every test gets a fresh copy of it, so tests (and parallel test runs) never
see each other's rows. Under ``CI=true`` a missing or unreachable PostgreSQL fails the run
instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from server.db import Database
from server.migrations import upgrade_to_head

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("OMNICART_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("OMNICART_TEST_REDIS_URL", "")


def require_service(name: str, env: str) -> None:
    """Skip (or, in CI, fail) a test whose service is not configured."""
    message = f"set {env} to run the {name} tests"
    if IN_CI:
        pytest.fail(f"CI=true requires the {name} run: {message}")
    pytest.skip(message)


def _pg_admin_dsn() -> str:
    url = make_url(PG_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url_for(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade_to_head(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """The name of a migrated PostgreSQL template database, or None when not configured."""
    if not PG_URL:
        yield None
        return
    name = f"omnicart_tpl_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL at OMNICART_TEST_DATABASE_URL is unreachable: {exc}")
    asyncio.run(_migrate(_pg_url_for(name)))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def make_database(
    kind: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> tuple[Database, str | None]:
    """Return a fresh migrated database of ``kind`` and, for PostgreSQL, its name to drop."""
    if kind == "sqlite":
        path = tmp_path / "omnicart.db"
        shutil.copyfile(sqlite_template, path)
        return Database(f"sqlite+aiosqlite:///{path}"), None
    if pg_template is None:
        require_service("PostgreSQL", "OMNICART_TEST_DATABASE_URL")
    name = f"omnicart_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    return Database(_pg_url_for(name)), name


@pytest.fixture(params=["sqlite", "postgres"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite, and PostgreSQL when configured."""
    database, pg_name = await make_database(request.param, tmp_path, sqlite_template, pg_template)
    try:
        yield database
    finally:
        await database.dispose()
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    """A migrated, empty SQLite database, for tests that need no PostgreSQL twin."""
    database, _ = await make_database("sqlite", tmp_path, sqlite_template, None)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def shared_postgres(
    tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[Database]:
    """A migrated PostgreSQL database that several server processes share."""
    database, name = await make_database("postgres", tmp_path, sqlite_template, pg_template)
    try:
        yield database
    finally:
        await database.dispose()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class LimitedPostgres:
    """A PostgreSQL database reached as a role that may hold only ``limit`` connections."""

    db: Database
    dsn: str  # the role's plain asyncpg DSN, to take its connections with
    limit: int

    async def take_every_slot(self) -> list[asyncpg.Connection]:
        """Open the role's every connection, so PostgreSQL refuses the next (SQLSTATE 53300)."""
        return [await asyncpg.connect(self.dsn) for _ in range(self.limit)]


@pytest.fixture
async def limited_postgres(
    request: pytest.FixtureRequest, pg_template: str | None
) -> AsyncIterator[LimitedPostgres]:
    """A migrated PostgreSQL database reached as a role of its own limited to 2 connections.

    Superusers are exempt from connection limits, so the role is not one. Two, because a
    request may use two engines (a page read, then the catalog); parametrise the fixture
    (``indirect=True``) for another limit. The role and the database are dropped afterwards.
    """
    if pg_template is None:
        require_service("PostgreSQL", "OMNICART_TEST_DATABASE_URL")
    name = f"omnicart_lim_{uuid.uuid4().hex[:12]}"
    limit = int(getattr(request, "param", 2))
    await _pg_admin(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER CONNECTION LIMIT {limit}')
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}" OWNER "{name}"')
    owner = make_url(_pg_admin_dsn()).set(database=name).render_as_string(hide_password=False)
    conn = await asyncpg.connect(owner)
    try:
        # The template's tables are the superuser's: the role gets every right on them.
        await conn.execute(
            f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{name}";'
            f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{name}"'
        )
    finally:
        await conn.close()
    url = make_url(_pg_url_for(name)).set(username=name, password=None)
    database = Database(url.render_as_string(hide_password=False))
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        yield LimitedPostgres(database, dsn, limit)
    finally:
        await database.dispose()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _pg_admin(f'DROP ROLE IF EXISTS "{name}"')
