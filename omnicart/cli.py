"""The ``omnicart`` command: ``serve`` the app, and every command of ``server.cli``."""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Annotated

import typer
import uvicorn

from server.cli import app as domain_commands
from server.commands.console import console, load_settings, run_with_db
from server.commands.demo import prepare_demo, print_demo_access
from server.config import Settings
from server.connection_budget import over_budget
from server.db import Database
from server.demo_access import DemoAccess
from server.events import DATABASE_BROKER
from server.logs import logging_config

WORKER_HEALTHCHECK_SECONDS = 30  # how long a worker may take to answer uvicorn's ping
log = logging.getLogger("omnicart")

app = typer.Typer(help="omnicart: one shopping journey across every channel.", no_args_is_help=True)
app.add_typer(domain_commands)


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
    go through the database unless OMNICART_BROKER_URL names Redis. On PostgreSQL it warns
    when the workers' pools may open more connections than the server admits.
    """
    settings = load_settings()
    if workers > 1 and not settings.broker_url:
        # The workers share the database, so live events between them go through it.
        os.environ["OMNICART_BROKER_URL"] = DATABASE_BROKER
    access = _prepare(settings, demo=demo, workers=workers)
    if demo:
        # Workers must not seed again in parallel; the data is in place now.
        os.environ["OMNICART_DEBUG"] = os.environ.get("OMNICART_DEBUG", "true")
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
    uvicorn.run(
        "omnicart.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn replaces a worker that does not answer its supervisor's ping in time; a
        # worker still starting on a busy machine (spawned, importing the app) can take
        # longer than uvicorn's 5 s, and was killed and restarted over and over.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        reload=reload,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),
        # server.logs.RequestLog writes the access line: redacted, with the request id.
        access_log=False,
        ws="websockets-sansio",
        # Always explicit, so uvicorn's own default (believe 127.0.0.1) never applies: a
        # client on this machine with no proxy in front could otherwise forge its address.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
    )


def _prepare(settings: Settings, *, demo: bool, workers: int) -> DemoAccess | None:
    """Migrate, seed the demo when asked, and warn when the workers' pools outgrow PostgreSQL.

    Return the demo's sign-in, when seeded.
    """

    async def prepare(db: Database) -> tuple[DemoAccess | None, str | None]:
        access = (await prepare_demo(db, settings))[1] if demo else None
        return access, await over_budget(db, settings, workers)

    access, connection_warning = run_with_db(settings, prepare)
    if connection_warning is not None:
        logging.config.dictConfig(logging_config(settings))  # as uvicorn's workers will log
        log.warning(connection_warning)
    return access


def main() -> None:
    """Entry point of the ``omnicart`` console script."""
    app()


if __name__ == "__main__":
    main()
