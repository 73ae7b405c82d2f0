"""Barcode images: product GTINs in their own symbology, Code 128 and QR for short texts.

Pure functions from data to bytes; the HTTP layer serves them and derives ETags from the
bytes, so output is deterministic across calls and worker processes: the SVG comment
python-barcode writes (it names the library version) is removed, and SVG uses the compact
serialisation because the pretty one ends lines with ``os.linesep``.

Product barcodes are cached per GTIN and format (shelf scans redraw the same few
thousand codes). Code 128 and QR are not: they mostly draw single-use handoff codes, for
which a cache would never hit and would only keep secrets in memory longer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from io import BytesIO
from typing import Any, Literal

import segno
from barcode import get_barcode_class
from barcode.writer import ImageWriter, SVGWriter

from server.errors import InvalidInput
from server.gtin import Gtin

ImageFormat = Literal["svg", "png"]

_SVG_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
# Longer texts make Code 128 bars too thin for a kiosk scanner reading a phone screen.
_CODE128_MAX_LENGTH = 48
# QR modules are drawn this many pixels wide with the standard 4-module quiet zone.
_QR_SCALE = 10
_QR_BORDER = 4


def render_gtin(gtin: Gtin, fmt: ImageFormat) -> bytes:
    """Draw a GTIN as EAN-13, EAN-8, UPC-A or ITF-14 with its digits under the bars."""
    return _render_gtin_cached(gtin, fmt)


@lru_cache(maxsize=1024)
def _render_gtin_cached(gtin: Gtin, fmt: ImageFormat) -> bytes:
    symbology = gtin.symbology
    if symbology == "upca":
        return _draw(symbology, gtin.digits[2:], fmt)
    if symbology == "itf":
        return _draw(symbology, gtin.digits, fmt)
    # Guard bars give EAN the familiar retail look: digits grouped between taller guards.
    return _draw(symbology, gtin.display, fmt, guardbar=True)


def render_code128(text: str, fmt: ImageFormat) -> bytes:
    """Draw printable ASCII text (a handoff code, an order number) as a Code 128 barcode."""
    if not text:
        raise InvalidInput("There is no text to draw as a barcode.", details={"reason": "empty"})
    if len(text) > _CODE128_MAX_LENGTH:
        raise InvalidInput(
            f"A Code 128 barcode holds at most {_CODE128_MAX_LENGTH} characters here.",
            details={"reason": "length"},
        )
    if not all(" " <= ch <= "~" for ch in text):
        raise InvalidInput(
            "A Code 128 barcode can only hold the letters A-Z, digits and ASCII punctuation.",
            details={"reason": "characters"},
        )
    return _draw("code128", text, fmt)


def render_qr(text: str, fmt: ImageFormat) -> bytes:
    """Draw text (a handoff code, a link) as a QR code with the standard quiet zone."""
    _check_format(fmt)
    if not text:
        raise InvalidInput("There is no text to draw as a QR code.", details={"reason": "empty"})
    try:
        # Error level M survives a scratched screen protector; never Micro QR, which
        # phone cameras and kiosk scanners often do not read.
        qr = segno.make_qr(text, error="m")
    except segno.DataOverflowError:
        raise InvalidInput(
            "The text is too long for a QR code.", details={"reason": "length"}
        ) from None
    buffer = BytesIO()
    qr.save(buffer, kind=fmt, scale=_QR_SCALE, border=_QR_BORDER)
    return buffer.getvalue()


def _check_format(fmt: str) -> None:
    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown image format {fmt!r}; use 'svg' or 'png'")


def _draw(symbology: str, code: str, fmt: ImageFormat, **options: Any) -> bytes:
    """Render one python-barcode symbol to SVG or PNG bytes."""
    _check_format(fmt)
    writer: Any
    if fmt == "svg":
        writer = SVGWriter()
        writer.compress = True  # compact XML; the writer's output is never gzipped here
        writer.with_doctype = False
    else:
        writer = ImageWriter(format="PNG", mode="L")
    symbol = get_barcode_class(symbology)(code, writer=writer, **options)
    # ITF.render() requires its options argument, so it is always passed.
    output = symbol.render({})
    if fmt == "svg":
        return _SVG_COMMENT.sub(b"", output)
    buffer = BytesIO()
    output.save(buffer, format="PNG")
    return buffer.getvalue()
