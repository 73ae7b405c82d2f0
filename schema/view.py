"""The ASGI GraphQL endpoint (HTTP and graphql-transport-ws) with omnicart's context."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from schema import build_schema
from schema.context import Context
from server.runtime import Runtime


class OmnicartGraphQL(GraphQL):
    """Strawberry's ASGI GraphQL app, building one omnicart ``Context`` per operation."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(build_schema(runtime.settings), **kwargs)
        self.runtime = runtime

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        return Context(self.runtime, request, response)
