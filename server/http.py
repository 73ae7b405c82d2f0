"""Plain HTTP plumbing shared by every route: the JSON error shape and the body-size cap."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import AppError
from server.logs import record_of
from server.messages import error_language, translate
from server.outages import as_unavailable

log = logging.getLogger("omnicart")


def error_response(code: str, message: str, status: int, field: str | None = None) -> JSONResponse:
    """Return the JSON error shape of plain routes: ``{"error": {code, message, field}}``."""
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status)


async def app_error_handler(request: Request, exc: Exception) -> Response:
    """Answer an AppError raised by a plain route with its status and the shared shape."""
    assert isinstance(exc, AppError)
    record = record_of(request.scope)
    if record is not None:
        record.outcome = exc.code
    language = error_language(request.headers.get("accept-language"))
    return error_response(exc.code, translate(exc.message, language), exc.http_status, exc.field)


async def outage_handler(request: Request, exc: Exception) -> Response:
    """Answer a lost or refused service connection in a plain route with 503 in the shared shape.

    Anything else of the same kinds is a bug: raised again, it is logged and answers 500.
    """
    unavailable = as_unavailable(exc)
    if unavailable is None or request.scope["type"] != "http":
        raise exc
    log.warning("SERVICE_UNAVAILABLE at %s: %s: %s", request.url.path, type(exc).__name__, exc)
    return await app_error_handler(request, unavailable)


async def not_found_handler(request: Request, exc: Exception) -> Response:
    """Answer unknown paths with the shared shape."""
    return error_response("NOT_FOUND", f"Nothing at {request.url.path}.", 404)


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413, declared or streamed.

    ``per_path`` gives some paths a limit of their own (the stock feed takes whole files).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(limit)(scope, receive, send)
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(limit)(scope, receive, send)


def _too_large(limit: int) -> JSONResponse:
    # Built only when a body is refused: building it for every request cost some 10 µs.
    return error_response("PAYLOAD_TOO_LARGE", f"Request bodies are limited to {limit} bytes.", 413)


class _BodyTooLarge(Exception):
    """Raised inside the app when a streamed body passes the cap."""
