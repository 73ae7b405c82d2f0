"""The ``omnicart`` commands of the domain: migrate, import, seed and operate the chain's data.

``omnicart.cli`` adds ``serve`` (the one that needs the GraphQL app) and is the entry point.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from search import SearchError
from server.accounts import add_device, list_devices, revoke_device
from server.commands import housekeeping, notify, orders, reports, staff, stock
from server.commands.console import (
    console,
    in_transaction,
    load_settings,
    migrate_only,
    progress_bar,
    run_with_db,
)
from server.commands.demo import prepare_demo, print_demo_access
from server.db import Database
from server.importer import import_catalog
from server.indexing import lead_indexing, reindex_all
from server.models import utcnow
from server.runtime import Runtime, create_broker

app = typer.Typer(help="omnicart: one shopping journey across every channel.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
device_app = typer.Typer(
    help="Kiosks, staff tablets, tills and warehouse systems of the stores.", no_args_is_help=True
)
app.add_typer(device_app, name="device")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    run_with_db(load_settings(), migrate_only)
    console.print("[green]Database schema is up to date.[/green]")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON Lines file.")
    ],
    report: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows (default: FILE.rejected.csv).")
    ] = None,
) -> None:
    """Import (upsert by barcode) a catalog file; bad rows are skipped and reported."""
    settings = load_settings()
    report_path = report or file.with_suffix(file.suffix + ".rejected.csv")
    total = file.stat().st_size

    async def work(db: Database) -> object:
        with progress_bar() as progress:
            task = progress.add_task(f"Importing {file.name}", total=total)

            def advance(done: int, _total: int) -> None:
                progress.update(task, completed=done)

            return await import_catalog(
                db, file, currency=settings.currency, report_path=report_path, on_progress=advance
            )

    result = run_with_db(settings, work)
    console.print(result)


@app.command("seed")
def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo stores, catalog and stock.")
    ] = False,
) -> None:
    """Load data for trying omnicart out."""
    if not demo:
        console.print("Nothing to seed: pass --demo for the demo stores, catalog and stock.")
        raise typer.Exit(2)
    settings = load_settings()
    result, access = run_with_db(settings, lambda db: prepare_demo(db, settings))
    console.print(result)
    print_demo_access(access, "http://127.0.0.1:8000")


class DeviceKindChoice(StrEnum):
    """What a device is: an order station, a staff tablet, a till or a warehouse system."""

    kiosk = "kiosk"
    staff = "staff"
    pos = "pos"
    warehouse = "warehouse"


@device_app.command("add")
def device_add(
    store: Annotated[str, typer.Option(help="The store's code.")],
    kind: Annotated[
        DeviceKindChoice,
        typer.Option(
            help="kiosk, staff, pos (a till: records stock movements of its store) or "
            "warehouse (its store's and the online warehouse's)."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="A name to tell it by.")] = None,
) -> None:
    """Register a device and print its token (shown this once; only a hash is kept)."""
    record, token = in_transaction(
        load_settings(),
        lambda session: add_device(
            session, store_code=store, kind=kind.value, name=name, now=utcnow()
        ),
    )
    console.print(f"Added {record.kind} device {record.id} ({record.name}) to {record.store_code}.")
    console.print("Its token follows on standard output; it is not shown again.")
    typer.echo(token)


@device_app.command("list")
def device_list(
    store: Annotated[str | None, typer.Option(help="Only this store's devices.")] = None,
) -> None:
    """List the registered devices."""
    records = in_transaction(load_settings(), lambda session: list_devices(session, store))
    table = Table("id", "store", "kind", "name", "added", "revoked")
    for r in records:
        revoked = r.revoked_at.strftime("%Y-%m-%d %H:%M") if r.revoked_at else ""
        table.add_row(
            str(r.id),
            r.store_code,
            r.kind,
            r.name,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            revoked,
        )
    Console().print(table)


@device_app.command("revoke")
def device_revoke(
    device_id: Annotated[int, typer.Argument(help="The device's id (see `device list`).")],
) -> None:
    """Stop a device's token from working, at once."""
    record = in_transaction(
        load_settings(), lambda session: revoke_device(session, device_id, utcnow())
    )
    console.print(f"Device {record.id} ({record.name}) is revoked.")


@app.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the database, from scratch."""
    settings = load_settings()

    async def work(db: Database) -> int:
        runtime = Runtime(settings=settings, db=db)
        try:
            with progress_bar() as progress:
                task = progress.add_task("Indexing products", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await reindex_all(db, runtime.search, settings.currency, on_progress=advance)
        finally:
            await runtime.search.close()

    try:
        count = run_with_db(settings, work)
    except SearchError as exc:
        console.print(f"[red]Search engine unavailable:[/red] {exc}. Check OMNICART_SEARCH_URL.")
        raise typer.Exit(1) from exc
    console.print(f"[green]Indexed {count} products.[/green]")


@app.command("indexer")
def indexer(
    interval: Annotated[float, typer.Option(help="Seconds between outbox polls.")] = 0.5,
) -> None:
    """Follow the outbox and keep the search index current (a worker of its own)."""
    settings = load_settings()

    async def work(db: Database) -> None:
        # Its broker announces drained changes to the servers' page caches.
        runtime = Runtime(
            settings=settings, db=db, events=create_broker(settings.broker_url, db=db)
        )
        try:
            await lead_indexing(
                db, runtime.search, settings.currency, interval=interval, events=runtime.events
            )
        finally:
            await runtime.search.close()

    console.print("Following the outbox; Ctrl+C stops.")
    with contextlib.suppress(KeyboardInterrupt):
        run_with_db(settings, work)


# The store operations' commands, each in a module of its own, listed after these.
app.add_typer(staff.staff_app, name="staff")
app.command("expire-orders")(orders.expire_orders)
app.command("housekeeping")(housekeeping.housekeeping)
app.command("remind-orders")(notify.remind_orders)
app.command("notify")(notify.notify)
app.add_typer(reports.report_app, name="report")
app.add_typer(stock.stock_app, name="stock")
