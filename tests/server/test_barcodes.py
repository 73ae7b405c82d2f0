"""Barcode images: the right symbology, readable bars and text, and the same bytes every time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from server.barcodes import render_code128, render_gtin, render_qr
from server.errors import InvalidInput
from server.gtin import Gtin, parse_gtin

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parents[2]

# EAN/UPC digit patterns (GS1 General Specifications): R codes, L = inverted R, G = reversed R.
R_CODES = ["1110010", "1100110", "1101100", "1000010", "1011100",
           "1001110", "1010000", "1000100", "1001000", "1110100"]  # fmt: skip
L_CODES = [code.translate(str.maketrans("01", "10")) for code in R_CODES]
G_CODES = [code[::-1] for code in R_CODES]
FIRST_DIGIT_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
                      "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]  # fmt: skip
ITF_CODES = ["nnwwn", "wnnnw", "nwnnw", "wwnnn", "nnwnw",
             "wnwnn", "nwwnn", "nnnww", "wnnwn", "nwnwn"]  # fmt: skip


def _mm(value: str) -> float:
    return float(value.removesuffix("mm"))


def _svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return root


def _bars(data: bytes) -> list[tuple[float, float]]:
    """Return (x, width) of every dark bar, leaving out the full-size background rect."""
    rects = _svg(data).iter(f"{SVG}rect")
    return [(_mm(r.get("x", "0")), _mm(r.get("width", "0"))) for r in rects if "x" in r.attrib]


def _text(data: bytes) -> str:
    return " ".join(t.text or "" for t in _svg(data).iter(f"{SVG}text"))


def _modules(data: bytes) -> str:
    """Turn the bars of an EAN/UPC SVG into its 0/1 module string."""
    bars = _bars(data)
    module = min(width for _, width in bars)
    start = bars[0][0]
    end = round((bars[-1][0] + bars[-1][1] - start) / module)
    modules = ["0"] * end
    for x, width in bars:
        first = round((x - start) / module)
        modules[first : first + round(width / module)] = "1" * round(width / module)
    return "".join(modules)


def _decode_ean(modules: str) -> str:
    """Decode EAN-13 (and UPC-A, as EAN-13 with a leading 0) or EAN-8 modules into digits."""
    half = {95: 6, 67: 4}[len(modules)]
    assert modules[:3] == modules[-3:] == "101"
    left = [modules[3 + 7 * i : 10 + 7 * i] for i in range(half)]
    middle = 3 + 7 * half
    assert modules[middle : middle + 5] == "01010"
    right = [modules[middle + 5 + 7 * i : middle + 12 + 7 * i] for i in range(half)]
    parity = "".join("L" if chunk in L_CODES else "G" for chunk in left)
    digits = [
        str(L_CODES.index(c) if p == "L" else G_CODES.index(c))
        for c, p in zip(left, parity, strict=True)
    ]
    digits += [str(R_CODES.index(chunk)) for chunk in right]
    if half == 4:
        return "".join(digits)
    return str(FIRST_DIGIT_PARITY.index(parity)) + "".join(digits)


def _decode_itf(data: bytes) -> str:
    """Decode interleaved 2 of 5 bars: bars carry the odd digits, spaces the even ones."""
    bars = _bars(data)
    narrow = min(width for _, width in bars)
    elements = []
    for (x, width), (next_x, _) in zip(
        bars, [*bars[1:], (bars[-1][0] + bars[-1][1], 0)], strict=True
    ):
        elements.append("w" if width > 1.5 * narrow else "n")
        elements.append("w" if next_x - (x + width) > 1.5 * narrow else "n")
    body = "".join(elements)
    assert body.startswith("nnnn")  # start pattern: narrow bar, space, bar, space
    pairs = body[4:-4]
    digits = ""
    for i in range(0, len(pairs), 10):
        digits += str(ITF_CODES.index(pairs[i : i + 10 : 2]))
        digits += str(ITF_CODES.index(pairs[i + 1 : i + 10 : 2]))
    return digits


def _png(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


def _dark_runs(image: Image.Image, y: int) -> int:
    row = [image.getpixel((x, y)) for x in range(image.width)]
    dark = [value < 128 for value in row]  # type: ignore[operator]
    return sum(1 for i, d in enumerate(dark) if d and (i == 0 or not dark[i - 1]))


@pytest.mark.parametrize(
    ("code", "bar_count"),
    [("4006381333931", 30), ("036000291452", 30), ("59032823", 22)],
)
def test_svg_bars_decode_back_to_the_displayed_number(code: str, bar_count: int) -> None:
    gtin = parse_gtin(code)
    svg = render_gtin(gtin, "svg")
    assert len(_bars(svg)) == bar_count
    assert _decode_ean(_modules(svg)) == gtin.display


def test_gtin14_is_drawn_as_itf14() -> None:
    gtin = parse_gtin("10012345678902")
    svg = render_gtin(gtin, "svg")
    assert gtin.symbology == "itf"
    assert len(_bars(svg)) == 2 + 7 * 5 + 2  # start, seven digit pairs, stop
    assert _decode_itf(svg) == "10012345678902"
    assert _text(svg) == "10012345678902"


def test_ean13_text_is_grouped_under_the_bars() -> None:
    svg = render_gtin(parse_gtin("4006381333931"), "svg")
    assert _text(svg) == "4 006381 333931 >"


def test_upc_a_is_drawn_as_upc_a_with_twelve_digits() -> None:
    gtin = parse_gtin("0036000291452")
    svg = render_gtin(gtin, "svg")
    assert gtin.symbology == "upca"
    assert _text(svg) == "036000291452"


def test_ean8_text_is_grouped_under_the_bars() -> None:
    assert _text(render_gtin(parse_gtin("59032823"), "svg")) == "< 5903 2823 >"


def test_svg_carries_no_generator_comment() -> None:
    svg = render_gtin(parse_gtin("4006381333931"), "svg")
    assert b"<!--" not in svg
    assert b"python-barcode" not in svg


@pytest.mark.parametrize(
    ("code", "bar_count"),
    [("4006381333931", 30), ("036000291452", 30), ("59032823", 22), ("10012345678902", 39)],
)
def test_png_decodes_with_sane_size_and_every_bar(code: str, bar_count: int) -> None:
    image = _png(render_gtin(parse_gtin(code), "png"))
    assert 300 <= image.width <= 800
    assert 150 <= image.height <= 400
    assert _dark_runs(image, image.height // 4) == bar_count
    assert _dark_runs(image, 0) == 0  # white margin above the bars


def test_code128_svg_and_png() -> None:
    svg = render_code128("ORD-2024-0042", "svg")
    assert _text(svg) == "ORD-2024-0042"
    assert len(_bars(svg)) > 20
    image = _png(render_code128("ORD-2024-0042", "png"))
    assert image.width > image.height > 100


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("Bjørn", "characters"), ("A\tB", "characters"), ("9" * 49, "length")],
)
def test_code128_refuses_what_it_cannot_draw(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_code128(text, "svg")
    assert (caught.value.code, caught.value.details) == ("INVALID_INPUT", {"reason": reason})


def test_qr_svg_is_xml_with_an_svg_root() -> None:
    root = _svg(render_qr("HANDOFF 482913", "svg"))
    assert root.get("width") == root.get("height")


def test_qr_png_has_quiet_zone_and_finder_pattern() -> None:
    image = _png(render_qr("HANDOFF 482913", "png"))
    modules, remainder = divmod(image.width, 10)
    assert (image.width, remainder) == (image.height, 0)
    assert (modules - 8 - 17) % 4 == 0  # a QR symbol is 17 + 4 x version modules wide
    assert image.getpixel((5, 5)) != image.getpixel((45, 45))  # quiet zone vs finder corner
    assert image.getpixel((45, 45)) == image.getpixel((75, 75))  # finder ring vs its centre
    assert image.getpixel((55, 55)) == image.getpixel((5, 5))  # the light ring between


@pytest.mark.parametrize(("text", "reason"), [("", "empty"), ("x" * 8000, "length")])
def test_qr_refuses_what_it_cannot_draw(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_qr(text, "png")
    assert caught.value.details == {"reason": reason}


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        render_qr("x", "gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        render_gtin(Gtin("04006381333931"), "gif")  # type: ignore[arg-type]


RENDER_ALL = """
import hashlib, sys
from server.barcodes import render_code128, render_gtin, render_qr
from server.gtin import parse_gtin
for fmt in ("svg", "png"):
    for code in ("4006381333931", "036000291452", "59032823", "10012345678902"):
        print(hashlib.sha256(render_gtin(parse_gtin(code), fmt)).hexdigest())
    print(hashlib.sha256(render_code128("ORD-42", fmt)).hexdigest())
    print(hashlib.sha256(render_qr("HANDOFF 482913", fmt)).hexdigest())
"""


def test_output_is_byte_identical_across_processes() -> None:
    # Every worker must derive the same ETag, so a fresh interpreter must draw the same bytes.
    here = []
    for fmt in ("svg", "png"):
        for code in ("4006381333931", "036000291452", "59032823", "10012345678902"):
            here.append(hashlib.sha256(render_gtin(parse_gtin(code), fmt)).hexdigest())
        here.append(hashlib.sha256(render_code128("ORD-42", fmt)).hexdigest())
        here.append(hashlib.sha256(render_qr("HANDOFF 482913", fmt)).hexdigest())
    other = subprocess.run(
        [sys.executable, "-c", RENDER_ALL], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert other.stdout.split() == here


def test_uncached_renderers_repeat_their_bytes() -> None:
    assert render_code128("ORD-42", "png") == render_code128("ORD-42", "png")
    assert render_qr("HANDOFF 482913", "svg") == render_qr("HANDOFF 482913", "svg")
