"""Plain HTTP routes for handoff images: the code as Code 128 and as QR, never cached.

``/handoff/{code}.svg|png`` draws Code 128 and ``/handoff/{code}/qr.svg|png`` a QR code,
both carrying the canonical code (no dash) for the kiosk's scanner. The code in the path
is the secret itself, so responses say ``no-store`` and ``no-referrer``. An unknown,
expired or used code is a 404 in the shared error shape, and counts as a failed attempt
for the client address: the image routes are no cheaper a way to guess codes than a claim.
Each request is admitted by the limit before the code is looked up (``server.ratelimit``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.barcodes import ImageFormat, render_code128, render_qr
from server.carts.handoff import live_handoff_code
from server.errors import InvalidInput, RateLimited
from server.http import error_response
from server.models import utcnow
from server.ratelimit import AttemptCounter, AttemptLimit
from server.runtime import Runtime

_MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}
SECRET_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
}
Renderer = Callable[[str, ImageFormat], bytes]


def handoff_barcode_url(code: str) -> str:
    """Return the path of a code's Code 128 image (SVG; PNG at ``.png``)."""
    return f"/handoff/{code}.svg"


def handoff_qr_url(code: str) -> str:
    """Return the path of a code's QR image (SVG; PNG at ``qr.png``)."""
    return f"/handoff/{code}/qr.svg"


def client_address(request: Request) -> str:
    """Return the caller's address as the server sees it (uvicorn applies trusted proxies)."""
    return request.client.host if request.client else "unknown"


async def _serve(request: Request, text: str, fmt: str, render: Renderer) -> Response:
    if fmt not in _MEDIA_TYPES:
        raise InvalidInput("Ask for .svg or .png.", field="format")
    runtime: Runtime = request.app.state.runtime
    attempts = AttemptCounter(runtime.db, AttemptLimit.from_settings(runtime.settings))
    bucket = [f"handoff-image:addr:{client_address(request)}"]
    now = utcnow()
    try:
        async with attempts.attempt(bucket, now) as attempt:
            async with runtime.db.transaction(write=False) as session:
                code = await live_handoff_code(
                    session, text, secret_key=runtime.secret_key, now=now
                )
            if code is not None:
                attempt.succeeded()
    except RateLimited as error:
        return _secret(error_response(error.code, error.message, error.http_status))
    if code is None:
        return _secret(error_response("NOT_FOUND", "There is no live handoff code here.", 404))
    body = render(code, fmt)  # type: ignore[arg-type]
    return Response(body, media_type=_MEDIA_TYPES[fmt], headers=SECRET_HEADERS)


def _secret(response: Response) -> Response:
    response.headers.update(SECRET_HEADERS)
    return response


async def handoff_barcode(request: Request) -> Response:
    """Draw a live handoff code as Code 128."""
    text, _, fmt = str(request.path_params["name"]).rpartition(".")
    return await _serve(request, text, fmt, render_code128)


async def handoff_qr(request: Request) -> Response:
    """Draw a live handoff code as a QR code."""
    return await _serve(request, request.path_params["code"], request.path_params["fmt"], render_qr)


def handoff_routes() -> list[Route]:
    """Return the routes the app mounts for handoff images."""
    return [
        Route("/handoff/{name}", handoff_barcode, methods=["GET"]),
        Route("/handoff/{code}/qr.{fmt}", handoff_qr, methods=["GET"]),
    ]
