"""``omnicart housekeeping``: expired rows and placed orders' follow-up, for cron."""

from __future__ import annotations

from server.commands.console import console, load_settings, run_with_db
from server.db import Database
from server.housekeeping import Expired, expire_rows
from server.orders.placed import follow_all
from server.ratelimit import AttemptLimit


def housekeeping() -> None:
    """Delete expired idempotency keys and rate-limit rows, and follow up placed orders.

    Every server process does this in the background already; run it from cron when no
    server runs (or to catch up). Deletes in batches of 1,000, each its own short
    transaction; the follow-up counts the placed orders' baskets and writes their "placed"
    messages. Safe to run at any time, also next to running servers.
    """
    settings = load_settings()
    window = AttemptLimit.from_settings(settings).window

    async def work(db: Database) -> tuple[Expired, int]:
        return await expire_rows(db, failure_window=window), await follow_all(db)

    expired, followed = run_with_db(settings, work)
    console.print(
        f"Deleted {expired.idempotency_keys} expired idempotency key(s) and "
        f"{expired.auth_failures} expired failed attempt(s); followed up {followed} placed "
        "order(s)."
    )
