"""The omnicart ASGI app: ``server``'s routes and lifespan with ``schema``'s GraphQL endpoint."""

from __future__ import annotations

import logging
import logging.config

from starlette.applications import Starlette
from starlette.types import ASGIApp

from schema.view import OmnicartGraphQL
from server import app as server_app
from server.config import Settings
from server.logs import logging_config
from server.runtime import Runtime

log = logging.getLogger("omnicart")


def create_app(
    settings: Settings, runtime: Runtime | None = None, *, migrate: bool = True
) -> Starlette:
    """Build the ASGI app for these settings; tests pass a runtime over their own database."""

    def graphql(runtime: Runtime) -> ASGIApp:
        ide = "graphiql" if settings.debug or settings.demo else None
        return OmnicartGraphQL(runtime, graphql_ide=ide)

    return server_app.create_app(settings, runtime, graphql=graphql, migrate=migrate)


def app_from_env() -> Starlette:
    """Build the app from ``OMNICART_*`` variables: what ``omnicart serve`` workers run."""
    settings = Settings()
    # Also under a bare `uvicorn omnicart.app:app_from_env`: one redacting format everywhere.
    logging.config.dictConfig(logging_config(settings))
    if settings.demo or settings.debug:
        log.warning("DEMO/DEBUG mode: GraphiQL and introspection are on; not for production.")
    return create_app(settings)
