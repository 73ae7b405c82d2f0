"""``omnicart report scans``: the scan report of a store as a table, and as CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.analytics import ScanReport, scan_report
from server.commands.console import console, in_transaction, load_settings
from server.errors import NotFound
from server.models import utcnow

report_app = typer.Typer(help="Reports on what happens in the stores.", no_args_is_help=True)
CSV_COLUMNS = [
    "kind",
    "gtin",
    "name",
    "scans",
    "led_to_cart",
    "out_of_stock_scans",
    "last_scanned_at",
]


def parse_moment(text: str, option: str) -> datetime:
    """Read ``2026-11-01`` (midnight) or an ISO date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@report_app.command("scans")
def report_scans(
    store: Annotated[str, typer.Option(help="The store's code.")],
    since: Annotated[str, typer.Option(help="Start, YYYY-MM-DD or ISO date-time (UTC).")],
    until: Annotated[
        str | None, typer.Option(help="End (excluded), YYYY-MM-DD or ISO; default now.")
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write every row to this CSV file.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Rows per table.")] = 20,
) -> None:
    """Most scanned products, scans that led to a cart line, and missed demand in a store."""
    start = parse_moment(since, "--since")
    end = parse_moment(until, "--until") if until else utcnow()
    settings = load_settings()

    async def work(session: AsyncSession) -> ScanReport:
        found = await catalog.store_by_code(session, store)
        if found is None:
            raise NotFound(f"No store has the code {store!r}.", field="store")
        return await scan_report(
            session,
            found.id,
            since=start,
            until=end,
            window_minutes=settings.scan_conversion_minutes,
        )

    report = in_transaction(settings, work)
    _print_report(report, top)
    if csv_path is not None:
        rows = _write_csv(report, csv_path)
        console.print(f"Wrote {rows} row(s) to {csv_path}.", soft_wrap=True)  # a path, whole


def _print_report(report: ScanReport, top: int) -> None:
    """Print the summary line and the tables, ``top`` rows each, on standard output."""
    out = Console()
    out.print(
        f"[bold]{report.store_name}[/bold] ({report.store_code}), "
        f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC: "
        f"{report.total_scans} scans, {report.led_to_cart} led to a cart line within "
        f"{report.window_minutes} min ({report.conversion_rate:.0%} of known products), "
        f"{report.out_of_stock_scans} while out of stock here, {report.unknown_scans} of "
        "unknown codes."
    )
    most = Table("product", "barcode", "scans", "to cart", "out of stock", title="Most scanned")
    for p in report.products[:top]:
        most.add_row(p.name, p.gtin, str(p.scans), str(p.led_to_cart), str(p.out_of_stock_scans))
    out.print(most)
    missed = Table("product", "barcode", "out-of-stock scans", "scans", title="Missed demand")
    for p in report.missed_demand[:top]:
        missed.add_row(p.name, p.gtin, str(p.out_of_stock_scans), str(p.scans))
    out.print(missed)
    if report.unknown_codes:
        unknown = Table("code", "scans", title="Unknown codes")
        for c in report.unknown_codes[:top]:
            unknown.add_row(c.code, str(c.scans))
        out.print(unknown)


def _write_csv(report: ScanReport, path: Path) -> int:
    """Write every product and unknown code of the report to a CSV file; return the rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for p in report.products:
            writer.writerow(
                [
                    "product",
                    p.gtin,
                    p.name,
                    p.scans,
                    p.led_to_cart,
                    p.out_of_stock_scans,
                    p.last_scanned_at.isoformat(),
                ]
            )
        for c in report.unknown_codes:
            writer.writerow(
                ["unknown_code", c.code, "", c.scans, 0, 0, c.last_scanned_at.isoformat()]
            )
    return len(report.products) + len(report.unknown_codes)
