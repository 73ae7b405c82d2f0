"""The ``omnicart`` command: serve, migrate, import, seed and operate the chain's data."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from server.config import Settings
from server.db import Database
from server.migrations import upgrade_to_head

T = TypeVar("T")
console = Console(stderr=True)
app = typer.Typer(help="omnicart: one shopping journey across every channel.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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
    from server.seed import seed_demo

    settings = load_settings()
    result = run_with_db(settings, lambda db: seed_demo(db, settings))
    console.print(result)


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
    """Migrate, optionally seed the demo, and serve the API and the PWA."""
    import uvicorn

    settings = load_settings()
    if demo:
        from server.seed import seed_demo

        console.print("Preparing the demo data (first start only)…")
        run_with_db(settings, lambda db: seed_demo(db, settings))
        # Workers must not seed again in parallel; the data is in place now.
        os.environ["OMNICART_DEBUG"] = os.environ.get("OMNICART_DEBUG", "true")
    else:
        run_with_db(settings, _nothing)
    os.environ.pop("OMNICART_DEMO", None)
    console.print(f"omnicart on http://{host}:{port}  (GraphQL at /graphql)")
    uvicorn.run(
        "server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
    )


async def _nothing(db: Database) -> None:
    return None


def main() -> None:
    """Entry point of the ``omnicart`` console script."""
    app()
