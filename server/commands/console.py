"""What every ``omnicart`` command shares: console, settings, migrated database, transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import Database
from server.errors import AppError
from server.migrations import upgrade_to_head

T = TypeVar("T")
# Messages for the operator go to standard error; what a script reads goes to standard output.
console = Console(stderr=True)


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


async def migrate_only(db: Database) -> None:
    """Do nothing more: with ``run_with_db``, only bring the schema to head."""
    return None


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one write transaction; an AppError exits with its message."""

    async def run(db: Database) -> T:
        async with db.transaction() as session:
            return await work(session)

    try:
        return run_with_db(settings, run)
    except AppError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(1) from error


def progress_bar() -> Progress:
    """Return the progress display every long-running command uses."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
