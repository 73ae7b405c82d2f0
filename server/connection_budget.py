"""Whether the PostgreSQL server admits every connection the workers may open.

Each worker process may open ``Settings.db_connections_per_worker`` connections (4 × pool
size + max overflow + 7). PostgreSQL refuses the one past its limit ("sorry, too many
clients already", SQLSTATE 53300), and the request that wanted it answers
``SERVICE_UNAVAILABLE``. ``omnicart serve`` knows how many workers it starts: it asks the
server what it admits (``admitted_connections``) and warns (``budget_warning``) when the
workers together may ask for more, naming the settings to change.

What a role may open is the least of: the server's ``max_connections`` less the slots kept
for superusers (``superuser_reserved_connections``, and ``reserved_connections`` from
PostgreSQL 16), the role's ``CONNECTION LIMIT`` and the database's. A superuser is held to
``max_connections`` alone. Other clients' connections (psql, backups, a separate
``omnicart indexer``) count against the same limit, so the warning is a floor, not a promise.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.config import Settings
from server.db import Database

_LIMITS = text(
    """
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + COALESCE(NULLIF(current_setting('reserved_connections', true), ''), '0')::int,
       r.rolsuper, r.rolconnlimit, d.datconnlimit
  FROM pg_roles r, pg_database d
 WHERE r.rolname = current_user AND d.datname = current_database()
"""
)


@dataclass(frozen=True)
class ConnectionAllowance:
    """How many connections PostgreSQL admits for omnicart's role and database, and why."""

    limit: int
    reason: str  # what sets the limit, in words an operator can act on


async def admitted_connections(db: Database) -> ConnectionAllowance:
    """Return the most connections the server admits for the database's role and database."""
    async with db.engine.connect() as conn:
        row = (await conn.execute(_LIMITS)).one()
    max_connections, reserved, superuser, role_limit, database_limit = row
    if superuser:
        return ConnectionAllowance(max_connections, f"max_connections {max_connections}")
    candidates = [
        (
            max_connections - reserved,
            f"max_connections {max_connections} less {reserved} reserved for superusers",
        )
    ]
    if role_limit >= 0:
        candidates.append((role_limit, f"the role's CONNECTION LIMIT {role_limit}"))
    if database_limit >= 0:
        candidates.append((database_limit, f"the database's CONNECTION LIMIT {database_limit}"))
    limit, reason = min(candidates, key=lambda candidate: candidate[0])
    return ConnectionAllowance(limit, reason)


def budget_warning(allowance: ConnectionAllowance, settings: Settings, workers: int) -> str | None:
    """Return what to tell the operator when ``workers`` may open more than admitted, or None."""
    each = settings.db_connections_per_worker
    if workers * each <= allowance.limit:
        return None
    return (
        f"{workers} worker{'s' if workers > 1 else ''} may open up to {workers} × {each} = "
        f"{workers * each} PostgreSQL connections (4 × OMNICART_DB_POOL_SIZE "
        f"{settings.db_pool_size} + OMNICART_DB_MAX_OVERFLOW {settings.db_max_overflow} + 7 "
        f"each), but the server admits {allowance.limit} ({allowance.reason}): under a burst "
        "requests will answer SERVICE_UNAVAILABLE. Lower OMNICART_DB_POOL_SIZE or "
        "OMNICART_DB_MAX_OVERFLOW (or --workers), or raise the limit; see docs/operations.md."
    )


async def over_budget(db: Database, settings: Settings, workers: int) -> str | None:
    """Return the warning when ``workers`` processes may open more than PostgreSQL admits.

    None on SQLite and when they fit. Limits that cannot be read are a warning too, not a
    failure: they only inform.
    """
    if db.is_sqlite:
        return None
    try:
        allowance = await admitted_connections(db)
    except SQLAlchemyError as exc:
        return (
            f"could not read PostgreSQL's connection limits, so the pools' fit is unchecked: {exc}"
        )
    return budget_warning(allowance, settings, workers)
