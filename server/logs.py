"""Logs that help and never leak: request ids, one access line per request, JSON for production.

Every HTTP request and WebSocket connection gets a request id (the caller's ``X-Request-ID``
when it sends a sane one, else a new one), returned in the ``X-Request-ID`` response header
and carried by every log record written while it is served. ``RequestLog`` writes one
``omnicart.access`` line per request with the method, the path (handoff codes and tokens
redacted), the status, the duration, and for GraphQL the operation name and its outcome code
(``OK``, ``INVALID_GTIN``, ``SERVICE_UNAVAILABLE``, …) — expected client errors are that line,
at INFO, not tracebacks. Documents, variables and bodies are never logged.

``OMNICART_LOG_FORMAT=json`` writes one JSON object a line (for log shippers); ``text`` (the
default) writes the same fields for people. Every record, uvicorn's included, passes through
``redact`` on its way out.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import Settings

access_log = logging.getLogger("omnicart.access")

# The request id of the request or connection being served in this task.
REQUEST_ID: ContextVar[str | None] = ContextVar("omnicart_request_id", default=None)
SCOPE_KEY = "omnicart.request"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Handoff images are named by the code itself; tokens have a kind prefix (server/tokens.py).
_HANDOFF_PATH = re.compile(r"(/handoff/)[^/?#\s\"]+")
_TOKEN = re.compile(r"\b(cs|dv|ct|ss)_[A-Za-z0-9_-]{8,}")
# Fields a formatter writes besides the message when a record carries them.
_ACCESS_FORMAT = "%s %s %s%s %s %.1fms"
_FIELDS = ("method", "path", "status", "duration_ms", "operation", "outcome", "errors")


def redact(text: str) -> str:
    """Replace handoff codes in ``/handoff/…`` paths and prefixed tokens with placeholders."""
    text = _HANDOFF_PATH.sub(r"\1[code]", text)
    return _TOKEN.sub(r"\1_[redacted]", text)


@dataclass
class RequestRecord:
    """What one request's access line says; the GraphQL view fills in operation and outcome."""

    request_id: str
    operation: str | None = None
    outcome: str | None = None
    error_codes: dict[str, int] = field(default_factory=dict)


def record_of(scope: Scope) -> RequestRecord | None:
    """Return the access-log record of the request ``scope`` belongs to, if it is logged."""
    record = scope.get(SCOPE_KEY)
    return record if isinstance(record, RequestRecord) else None


class RedactingFilter(logging.Filter):
    """Redact every record's message and give it the request id; attach it to handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and access fields."""

    converter = staticmethod(time.gmtime)  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: getattr(record, k) for k in _FIELDS if getattr(record, k, None)})
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id] message``, tracebacks redacted too."""

    converter = staticmethod(time.gmtime)  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatException(self, ei: Any) -> str:  # noqa: N802 - the stdlib's name
        return redact(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def logging_config(settings: Settings) -> dict[str, Any]:
    """Return the ``logging.config.dictConfig`` of the server (uvicorn's ``log_config``).

    Everything goes to standard error through one redacting handler. uvicorn's own access
    lines are left out: ``RequestLog`` writes the one access line, redacted and with the
    request id.
    """
    formatter = "json" if settings.log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactingFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    # 32 hex digits, as a uuid4's hex; a quarter of its cost.
    return secrets.token_hex(16)


class RequestLog:
    """Give each request an id (echoed as ``X-Request-ID``) and write its one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(_request_id(scope))
        scope[SCOPE_KEY] = record
        token = REQUEST_ID.set(record.request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.accept"):
                status = message.get("status", 101)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", record.request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.close" and status == 500:
                status = 403  # closed before accepting: the handshake was refused
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _write_access_line(scope, record, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)


def _write_access_line(scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return  # nothing would be written: spare the redaction and the fields
    method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
    path = redact(scope.get("path", ""))
    outcome = record.outcome or ("OK" if status < 400 else f"HTTP_{status}")
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "operation": record.operation,
        "outcome": outcome,
        "errors": record.error_codes or None,
    }
    operation = f" {record.operation}" if record.operation else ""
    args = (method, path, status, operation, outcome, fields["duration_ms"])
    # Built and handed on as ``Logger.info`` would, without its walk up the stack to find the
    # caller (no format of ours names the caller's file or line): a fifth of the line's cost.
    line = access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, _ACCESS_FORMAT, args, None, extra=fields
    )
    access_log.handle(line)
