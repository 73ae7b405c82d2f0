"""``omnicart stock``: import a file of stock movements, and check (and repair) stock truth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from server.commands.console import (
    console,
    in_transaction,
    load_settings,
    progress_bar,
    run_with_db,
)
from server.db import Database
from server.events import Publisher
from server.models import utcnow
from server.runtime import create_broker
from server.stock.feed import FeedReport, run_feed
from server.stock.inputs import Recorder, TillClub
from server.stock.reconcile import CheckReport, check_stock, repair

stock_app = typer.Typer(help="Stock movements and the stock check.", no_args_is_help=True)


async def _file_lines(path: Path, advance: Callable[[int], None]) -> AsyncIterator[bytes]:
    done = 0
    async with await anyio.open_file(path, "rb") as handle:
        async for line in handle:
            done += len(line)
            advance(done)
            yield line.rstrip(b"\r\n")


@stock_app.command("import")
def import_movements(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON file.")],
) -> None:
    """Apply a file of stock movements (the NDJSON POST /stock/movements takes), with progress.

    ``storeId`` may be a store's id or its code. Lines apply 1,000 at a time; a bad line is
    reported and the rest apply; running the same file again changes nothing. Exits 1 when
    a line was rejected.
    """
    settings = load_settings()

    async def work(db: Database) -> FeedReport:
        broker = create_broker(settings.broker_url, db=db)
        publisher = Publisher(broker)
        try:
            with progress_bar() as progress:
                task = progress.add_task(f"Applying {file.name}", total=file.stat().st_size)

                def advance(done: int) -> None:
                    progress.update(task, completed=done)

                async def announce(ids: set[int]) -> None:
                    publisher.announce_products(ids)

                lines = _file_lines(file, advance)
                return await run_feed(
                    db, Recorder.command_line(TillClub.of(settings)), lines, announce
                )
        finally:
            # The servers hear of every batch before the command exits.
            await publisher.close()
            await broker.close()

    report = run_with_db(settings, work)
    _print_feed(report)
    if report.rejected:
        raise typer.Exit(1)


def _print_feed(report: FeedReport) -> None:
    console.print(
        f"{report.lines} lines: {report.applied} applied, {report.replayed} already recorded, "
        f"{report.rejected} rejected, {report.short} short."
    )
    # One plain line per rejected line (on standard output), easy to grep or keep from cron.
    out = Console(soft_wrap=True, highlight=False)
    for r in report.rejected_lines:
        where = f" ({r.movement_id})" if r.movement_id else ""
        field = f" {r.field}" if r.field else ""
        out.print(f"line {r.line}{where}: {r.code}{field}: {r.message}", markup=False)


@stock_app.command("check")
def check(
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair what disagrees (each repair is audited).")
    ] = False,
) -> None:
    """Compare on hand, reserved and the movement history of every location; exit 1 on drift.

    Reserved must equal the held reservations, on hand the sum of the history. With
    ``--fix`` each drifting row is set to what its reservations and history say and an
    audit row records the figures before and after.
    """

    async def work(session: AsyncSession) -> CheckReport:
        report = await check_stock(session)
        if fix and report.drifts:
            await repair(session, report.drifts, utcnow())
        return report

    report = in_transaction(load_settings(), work)
    console.print(
        f"Checked {report.levels} stock rows ({report.with_history} with history): "
        f"{len(report.drifts)} drift."
    )
    if not report.drifts:
        return
    table = Table("location", "product", "on hand", "history", "reserved", "held")
    for d in report.drifts:
        history = "" if d.history is None else str(d.history)
        table.add_row(d.location_code, str(d.product_id), str(d.on_hand), history,
                      str(d.reserved), str(d.held))  # fmt: skip
    Console().print(table)
    if fix:
        console.print(f"[green]Repaired {len(report.drifts)} row(s).[/green]")
    else:
        raise typer.Exit(1)
