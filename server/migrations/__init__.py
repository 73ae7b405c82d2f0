"""Alembic migrations, run in-process by the CLI and by the app on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from server.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any fixed number: the PostgreSQL advisory lock that keeps two starting workers from
# migrating at once.
_MIGRATION_LOCK_KEY = 7_413_205_001


def alembic_config() -> Config:
    """Return an Alembic config pointing at this package, with no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """Return the newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_to_head(db: Database) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    # A write transaction like any other: on SQLite it waits (up to the busy timeout) while
    # another worker that started first migrates or indexes.
    async with db.transaction() as session:
        conn = await session.connection()
        if not db.is_sqlite:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )

        def _upgrade(sync_conn: Any) -> None:
            config = alembic_config()
            config.attributes["connection"] = sync_conn
            command.upgrade(config, "head")

        await conn.run_sync(_upgrade)
