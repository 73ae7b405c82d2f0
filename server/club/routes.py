"""Plain HTTP routes for the member card: the number as Code 128 and as QR, never cached.

``/members/{number}.svg|png`` draws Code 128 and ``/members/{number}/qr.svg|png`` a QR code
of the canonical member number, for the till's and the kiosk's scanners. Any number whose
check digit is valid is drawn without a database lookup (the image tells nothing a printed
card does not), so these routes cannot be used to find out which numbers are members.
They answer ``no-store``: a member's card stays off shared caches.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.barcodes import ImageFormat, render_code128, render_qr
from server.carts.routes import SECRET_HEADERS, Renderer
from server.club.numbers import normalise_member_number
from server.http import error_response

_MEDIA_TYPES: dict[str, str] = {"svg": "image/svg+xml", "png": "image/png"}


def _serve(text: str, fmt: str, render: Renderer) -> Response:
    number = normalise_member_number(text)
    if fmt not in _MEDIA_TYPES:
        response = error_response("INVALID_INPUT", "Ask for .svg or .png.", 400)
    elif number is None:
        response = error_response("NOT_FOUND", "That is not a member number.", 404)
    else:
        fmt_: ImageFormat = "svg" if fmt == "svg" else "png"
        return Response(render(number, fmt_), media_type=_MEDIA_TYPES[fmt], headers=SECRET_HEADERS)
    response.headers.update(SECRET_HEADERS)
    return response


async def member_barcode(request: Request) -> Response:
    """Draw a member number as Code 128."""
    text, _, fmt = str(request.path_params["name"]).rpartition(".")
    return _serve(text, fmt, render_code128)


async def member_qr(request: Request) -> Response:
    """Draw a member number as a QR code."""
    return _serve(request.path_params["number"], request.path_params["fmt"], render_qr)


def member_card_routes() -> list[Route]:
    """Return the routes the app mounts for member card images."""
    return [
        Route("/members/{name}", member_barcode, methods=["GET"]),
        Route("/members/{number}/qr.{fmt}", member_qr, methods=["GET"]),
    ]
