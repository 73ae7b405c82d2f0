"""The ASGI GraphQL endpoint (HTTP and graphql-transport-ws) with omnicart's context."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from schema import build_schema
from schema.context import Context
from server.runtime import Runtime

GRAPHIQL_PAGE = Path(__file__).with_name("graphiql.html")


@cache
def graphiql_html() -> str:
    """Return omnicart's GraphiQL page, whose scripts and styles are served from ``/vendor/``."""
    return GRAPHIQL_PAGE.read_text(encoding="utf-8")


class OmnicartGraphQL(GraphQL):
    """Strawberry's ASGI GraphQL app, building one omnicart ``Context`` per operation."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(build_schema(runtime.settings), **kwargs)
        self.runtime = runtime

    async def render_graphql_ide(self, request: Request) -> Response:
        """Serve GraphiQL from this server's vendored files, so it works without internet."""
        return HTMLResponse(graphiql_html())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        return Context(self.runtime, request, response)
