"""The ASGI GraphQL endpoint (HTTP and graphql-transport-ws) with omnicart's context.

HTTP answers follow the GraphQL-over-HTTP spec. A request that is not a GraphQL request
(a body that is not a JSON object, an unsupported content type, GET for a mutation) is 400
with the shared JSON error shape of plain routes. A client that accepts
``application/graphql-response+json`` gets that media type, and a document that fails to
parse or validate (or whose variables do not fit) answers 400 without ``data``; with
``application/json`` such a document answers 200, as that media type's clients expect. Either
way, an operation that met ``SERVICE_UNAVAILABLE`` (a lost database or broker connection)
answers 503, so load balancers and retrying clients see it.

Automatic persisted queries (Apollo's APQ, ``schema/persisted.py``) are resolved here, before
the operation runs: a request by hash runs its registered text, and an unknown hash (or a hash
that is not its text's) answers a GraphQL error with the status rules above.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types import ExecutionResult

from schema import page_path
from schema.build import build_schema
from schema.context import Context
from schema.persisted import PersistedQueryRefused, pwa_registry, resolve_persisted
from server.http import error_response
from server.logs import record_of
from server.outages import as_unavailable
from server.pwa_documents import product_page_document
from server.runtime import Runtime

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_HTTP_CODES = {400: "INVALID_INPUT", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def accepts_graphql_response(accept: str) -> bool:
    """Tell whether an Accept header asks for ``application/graphql-response+json`` (q > 0)."""
    for part in accept.split(","):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        if media_type.lower() == GRAPHQL_RESPONSE:
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params)
    return False


def response_status(data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], media_type: str) -> int:
    """Return the HTTP status of a GraphQL response, by the codes of its errors."""
    if isinstance(data, list):
        return 200
    errors: list[dict[str, Any]] = list(data.get("errors") or [])  # type: ignore[arg-type]
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if "SERVICE_UNAVAILABLE" in codes:
        return 503
    # Errors without a path are the request's own: parse, validation, variable coercion
    # (or a failed commit, which is ours: 500).
    request_failed = errors and data.get("data") is None and not any(e.get("path") for e in errors)
    if media_type == GRAPHQL_RESPONSE and request_failed:
        return 500 if "INTERNAL" in codes else 400
    return 200


@lru_cache(maxsize=64)
def media_type_of(content_type: str) -> str:
    """Return the media type of a Content-Type header (parsed through ``email``: kept)."""
    return parse_content_type(content_type)[0]


GRAPHIQL_PAGE = Path(__file__).with_name("graphiql.html")


@cache
def graphiql_html() -> str:
    """Return omnicart's GraphiQL page, whose scripts and styles are served from ``/vendor/``."""
    return GRAPHIQL_PAGE.read_text(encoding="utf-8")


class OmnicartGraphQL(GraphQL):
    """Strawberry's ASGI GraphQL app, building one omnicart ``Context`` per operation."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        self.persisted = pwa_registry(runtime.settings.max_persisted_queries)
        super().__init__(build_schema(runtime.settings, self.persisted), **kwargs)
        self.runtime = runtime
        # The product screen's document, laid out without GraphQL (schema/page_path.py);
        # None when the PWA's document is not the one that layout was written for.
        page = product_page_document()
        self.page_text: str | None = page if page_path.matches(page) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
            response = error_response(code, exc.reason, exc.status_code)
            record = record_of(scope)
            if record is not None:
                record.outcome = code
        await response(scope, receive, send)

    async def execute_single(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run one operation, its text looked up by hash for a persisted query (APQ)."""
        try:
            query = resolve_persisted(self.persisted, request_data.query, request_data.extensions)
        except PersistedQueryRefused as refused:
            record = record_of(request.scope)
            if record is not None:
                record.outcome, record.error_codes = refused.code, {refused.code: 1}
            return ExecutionResult(data=None, errors=[refused.error])
        fast = await self._page_answer(request, request_adapter, context, request_data, query)
        if fast is not None:
            return fast
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data
            if query is request_data.query
            else replace(request_data, query=query),
        )

    async def _page_answer(
        self,
        request: Request,
        request_adapter: Any,
        context: Any,
        request_data: GraphQLRequestData,
        query: str | None,
    ) -> ExecutionResult | None:
        """Answer the product screen's document directly, or None for the general path."""
        if (
            self.page_text is None
            or query != self.page_text
            or request_data.operation_name not in (None, page_path.OPERATION)
            or request_data.protocol != "http"
            or (request_adapter.method == "GET" and not self.allow_queries_via_get)
            or not isinstance(context, Context)
        ):
            return None
        try:
            data = await page_path.answer(
                context.runtime.pages,
                request_data.variables,
                bearer=context.credentials()[0],
                threshold=context.settings.low_stock_threshold,
            )
        except Exception as exc:
            if as_unavailable(exc) is None:
                raise
            # A lost or refused database connection: the general path tries once more and,
            # should that fail too, answers SERVICE_UNAVAILABLE (CodedErrors logs it).
            return None
        if data is None:
            return None
        record = record_of(request.scope)
        if record is not None:
            record.operation, record.outcome, record.error_codes = page_path.OPERATION, "OK", {}
        return ExecutionResult(data=data, errors=None)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Show GraphiQL for a browser's GET without a document: neither text nor hash."""
        if request.method != "GET":
            return False  # as Strawberry answers, without parsing the query string first
        has_hash = request.query_params.get("extensions") is not None
        return not has_hash and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Serve GraphiQL from this server's vendored files, so it works without internet."""
        return HTMLResponse(graphiql_html())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        return Context(self.runtime, request, response)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Read a JSON POST's operation here, anything else (or anything refused) as Strawberry.

        Strawberry parses the Content-Type header through ``email`` on every request; the
        shop's clients send the same one or two.
        """
        if (
            request.method != "POST"
            or "application/json" not in media_type_of(request.content_type or "")
            or self._get_stream_transport_from_headers(request.headers) is not None
        ):
            return await super().parse_http_body(request)
        data = self.parse_json(await request.get_body())
        query = data.get("query") if isinstance(data, dict) else None
        variables = data.get("variables") if isinstance(data, dict) else None
        extensions = data.get("extensions") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(query, str | None)
            or not isinstance(variables, dict | None)
            or not isinstance(extensions, dict | None)
        ):
            # A batch, or a refusal worded by Strawberry (the body is read once, and kept).
            return await super().parse_http_body(request)
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=data.get("operationName"),
            extensions=extensions,
            protocol="http",
        )

    def parse_json(self, data: str | bytes) -> Any:
        """Decode a JSON body (or query parameter), refusing anything but an object or a list."""
        value = super().parse_json(data)
        if not isinstance(value, dict | list):
            kind = "null" if value is None else type(value).__name__
            raise HTTPException(
                400,
                'The body must be a JSON object like {"query": "…", "variables": {…}}, not ' + kind,
            )
        return value

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """Start the response headers; the media type is chosen here, from the Accept header."""
        sub_response = await super().get_sub_response(request)
        wanted = accepts_graphql_response(request.headers.get("accept", ""))
        sub_response.media_type = GRAPHQL_RESPONSE if wanted else JSON
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """Answer with the negotiated media type and the status the errors call for."""
        media_type = sub_response.media_type or JSON
        status = response_status(response_data, media_type)
        if status == 400 and isinstance(response_data, dict):
            # The request never executed: the spec wants no "data" entry at all.
            response_data = {k: v for k, v in response_data.items() if k != "data"}  # type: ignore[assignment]
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or status,
            media_type=media_type,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response
