"""The ``omnicart`` command: serve, migrate, import, seed and operate the chain's data."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from search import SearchError
from server.config import Settings
from server.db import Database
from server.errors import AppError
from server.events import DATABASE_BROKER
from server.migrations import upgrade_to_head

if TYPE_CHECKING:
    from server.demo_access import DemoAccess
    from server.seed import SeedReport

T = TypeVar("T")
console = Console(stderr=True)
app = typer.Typer(help="omnicart: one shopping journey across every channel.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
device_app = typer.Typer(help="Kiosks and staff tablets of the stores.", no_args_is_help=True)
app.add_typer(device_app, name="device")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, or exit with what to set."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for err in exc.errors():
            where = "OMNICART_" + "_".join(str(p) for p in err["loc"]).upper()
            console.print(f"[red]Invalid setting {where}:[/red] {err['msg']}")
        raise typer.Exit(2) from exc


def run_with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` against the settings' database, migrated to head first."""

    async def _run() -> T:
        db = Database.from_settings(settings)
        try:
            await upgrade_to_head(db)
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(_run())


def progress_bar() -> Progress:
    """Return the progress display every long-running command uses."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    run_with_db(load_settings(), _nothing)
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
    from server.importer import import_catalog

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


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data on first start.")
    ] = False,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Migrate, optionally seed the demo, and serve the API and the PWA.

    With ``--workers`` above 1 the workers share everything through the database and the data
    dir: one of them writes the embedded search index (the others read it), and live events
    go through the database unless OMNICART_BROKER_URL names Redis.
    """
    import uvicorn

    settings = load_settings()
    if workers > 1 and not settings.broker_url:
        # The workers share the database, so live events between them go through it.
        os.environ["OMNICART_BROKER_URL"] = DATABASE_BROKER
    access = None
    if demo:
        _, access = run_with_db(settings, lambda db: prepare_demo(db, settings))
        # Workers must not seed again in parallel; the data is in place now.
        os.environ["OMNICART_DEBUG"] = os.environ.get("OMNICART_DEBUG", "true")
    else:
        run_with_db(settings, _nothing)
    os.environ.pop("OMNICART_DEMO", None)
    if demo:
        console.print(
            "[bold yellow]THIS IS THE DEMO[/bold yellow]: demo stores and catalog, GraphiQL and "
            "introspection on. Not for production (start without --demo there)."
        )
    name = "omnicart DEMO" if demo else "omnicart"
    console.print(f"{name} on http://{host}:{port}  (GraphQL at /graphql)")
    if access is not None:
        print_demo_access(access, f"http://{host}:{port}")
    from server.logs import logging_config

    uvicorn.run(
        "server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),
        # server.logs.RequestLog writes the access line: redacted, with the request id.
        access_log=False,
        ws="websockets-sansio",
    )


async def _nothing(db: Database) -> None:
    return None


async def prepare_demo(db: Database, settings: Settings) -> tuple[SeedReport, DemoAccess]:
    """Seed the demo data unless it is there (saying so only then); ensure its sign-in."""
    from server.demo_access import ensure_demo_access
    from server.seed import demo_is_seeded, seed_demo

    if not await demo_is_seeded(db):
        console.print("Preparing the demo data (first start only)…")
    report = await seed_demo(db, settings)
    return report, await ensure_demo_access(db, settings)


def print_demo_access(access: DemoAccess, base_url: str) -> None:
    """Print how to sign in to the demo on standard output (the kiosk links hold tokens)."""
    out = Console(soft_wrap=True, highlight=False)
    out.print("Demo sign-in (demo data only; anyone who reads this can sign in):", markup=False)
    for line in access.lines(base_url):
        out.print(f"  {line}", markup=False)


class DeviceKindChoice(StrEnum):
    """What a device is: an in-store order station or a staff tablet."""

    kiosk = "kiosk"
    staff = "staff"


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one write transaction; an AppError exits with its message."""

    async def run(db: Database) -> T:
        async with db.transaction() as session:
            return await work(session)

    try:
        return run_with_db(settings, run)
    except AppError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(1) from error


@device_app.command("add")
def device_add(
    store: Annotated[str, typer.Option(help="The store's code.")],
    kind: Annotated[DeviceKindChoice, typer.Option(help="kiosk or staff.")],
    name: Annotated[str | None, typer.Option(help="A name to tell it by.")] = None,
) -> None:
    """Register a device and print its token (shown this once; only a hash is kept)."""
    from server.accounts import add_device
    from server.models import utcnow

    record, token = _in_transaction(
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
    from server.accounts import list_devices

    records = _in_transaction(load_settings(), lambda session: list_devices(session, store))
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
    from server.accounts import revoke_device
    from server.models import utcnow

    record = _in_transaction(
        load_settings(), lambda session: revoke_device(session, device_id, utcnow())
    )
    console.print(f"Device {record.id} ({record.name}) is revoked.")


@app.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the database, from scratch."""
    from server.indexing import reindex_all
    from server.runtime import Runtime

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
    from server.events import create_broker
    from server.indexing import lead_indexing
    from server.runtime import Runtime

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


# Registered last: the sub-commands use the helpers above.
from server.commands import register_commands  # noqa: E402

register_commands(app)


def main() -> None:
    """Entry point of the ``omnicart`` console script."""
    app()


if __name__ == "__main__":
    main()
