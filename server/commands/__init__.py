"""``omnicart`` sub-commands of the store operations: staff accounts, order expiry, reports.

They live apart from ``server.cli`` to keep it small, and use its helpers (settings,
migrated database, one transaction per command); ``server.cli`` registers them.
"""

from __future__ import annotations

import typer


def register_commands(app: typer.Typer) -> None:
    """Add the staff, expire-orders, report and stock commands to the ``omnicart`` app."""
    from server.commands import orders, reports, staff, stock

    app.add_typer(staff.staff_app, name="staff")
    app.command("expire-orders")(orders.expire_orders)
    app.add_typer(reports.report_app, name="report")
    app.add_typer(stock.stock_app, name="stock")
