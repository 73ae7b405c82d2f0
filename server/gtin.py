"""Barcode parsing: turn what a scanner or a person delivers into one canonical GTIN-14.

Every printed form of a product number (EAN-13, EAN-8, UPC-A, UPC-E, GTIN-14, a GS1
element string carrying AI (01), a GS1 Digital Link URL) maps to one ``Gtin`` whose
``digits`` are the 14-digit, zero-padded GTIN, so a UPC-A scan and its EAN-13 form find
the same product. Restricted circulation numbers (EAN-8 with prefix 0 or 2, EAN-13 with
02, 04 or 20-29; ``Gtin.restricted``) are the chain's own codes and parse like any other:
whether one is a product's code or a price/weight label depends on the catalog, which
``server.catalog.product_for_code`` asks first; ``parse_scan`` adds how a configured
``RestrictedTemplate`` (``server.gtin_labels``, whose public names this module exports
too) would read it as a label.

Check digits come from ``stdnum.ean``; nothing here does I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NoReturn
from urllib.parse import unquote, urlsplit

from stdnum import ean, gs1_128

from server.errors import InvalidGtin
from server.gtin_labels import (
    DEFAULT_TEMPLATE_SPEC,
    DEFAULT_TEMPLATES,
    RestrictedCode,
    RestrictedTemplate,
    parse_template,
    read_label,
    restricted_prefix,
)

__all__ = [
    "DEFAULT_TEMPLATES",
    "DEFAULT_TEMPLATE_SPEC",
    "Gtin",
    "GtinKind",
    "InvalidGtinReason",
    "RestrictedCode",
    "RestrictedTemplate",
    "ScannedCode",
    "Symbology",
    "parse_gtin",
    "parse_scan",
    "parse_template",
    "unreadable_restricted",
]

GtinKind = Literal["EAN-8", "UPC-A", "EAN-13", "GTIN-14"]
Symbology = Literal["ean8", "upca", "ean13", "itf"]
InvalidGtinReason = Literal[
    "empty", "characters", "non_ascii_digits", "length", "check_digit", "restricted", "no_gtin"
]

_ASCII_DIGITS = frozenset("0123456789")
# Phones turn typed "-" into en/em dashes, so the whole dash family counts as a separator.
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_GS = "\x1d"  # ASCII group separator: how scanners transmit FNC1
_SYMBOLOGY_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# AIM identifiers whose payload is a GS1 element string (GS1-128, DataBar, DataMatrix, QR, DotCode).
_GS1_SYMBOLOGY_IDS = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
_URL = re.compile(r"https?://", re.IGNORECASE)
_PARENTHESISED_AI = re.compile(r"\((\d{2,4})\)([^()]*)")
# python-barcode 0.16 has no dedicated ITF-14 class; its ITF draws the same interleaved
# 2-of-5 bars (without bearer bars), which is what GTIN-14 cartons carry.
_SYMBOLOGY_BY_KIND: dict[GtinKind, Symbology] = {
    "EAN-8": "ean8",
    "UPC-A": "upca",
    "EAN-13": "ean13",
    "GTIN-14": "itf",
}
_ECHO_LIMIT = 40  # keep error messages readable when someone pastes a paragraph


def _is_ascii_digits(text: str) -> bool:
    return bool(text) and all(ch in _ASCII_DIGITS for ch in text)


def _check_digit_ok(code: str) -> bool:
    return ean.calc_check_digit(code[:-1]) == code[-1]


@dataclass(frozen=True, slots=True)
class Gtin:
    """A global trade item number, held as its canonical 14-digit form.

    Build one with ``parse_gtin``; the constructor only accepts 14 ASCII digits with a
    valid check digit and raises ``ValueError`` otherwise (a programming error, not input).
    """

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != 14 or not _is_ascii_digits(self.digits):
            raise ValueError(f"Gtin needs 14 ASCII digits, got {self.digits!r}")
        if not _check_digit_ok(self.digits):
            raise ValueError(f"Gtin {self.digits!r} has a wrong check digit")

    @property
    def kind(self) -> GtinKind:
        """Return the shortest standard form the number fits in."""
        if self.digits.startswith("000000"):
            return "EAN-8"
        if self.digits.startswith("00"):
            return "UPC-A"
        if self.digits.startswith("0"):
            return "EAN-13"
        return "GTIN-14"

    @property
    def display(self) -> str:
        """Return the form shown to people: EAN-8, EAN-13 (also for UPC-A) or GTIN-14."""
        kind = self.kind
        if kind == "EAN-8":
            return self.digits[6:]
        if kind in ("UPC-A", "EAN-13"):
            return self.digits[1:]
        return self.digits

    @property
    def forms(self) -> tuple[str, ...]:
        """Return every printed form that identifies this GTIN, longest first, for indexing."""
        forms = [self.digits]
        if self.digits.startswith("0"):
            forms.append(self.digits[1:])
        kind = self.kind
        if kind == "UPC-A":
            upc_a = self.digits[2:]
            forms.append(upc_a)
            upc_e = _compress_upc_e(upc_a)
            if upc_e is not None:
                forms.append(upc_e)
        elif kind == "EAN-8":
            forms.append(self.digits[6:])
        return tuple(forms)

    @property
    def restricted(self) -> bool:
        """Return whether this is a restricted circulation number (the chain's own code)."""
        return restricted_prefix(self.digits) is not None

    @property
    def symbology(self) -> Symbology:
        """Return the python-barcode symbology name that draws this GTIN (ITF-14 for GTIN-14)."""
        return _SYMBOLOGY_BY_KIND[self.kind]

    def __str__(self) -> str:
        return self.display


def parse_gtin(text: str) -> Gtin:
    """Given a scanned or typed code, return its canonical GTIN or raise ``InvalidGtin``.

    Accepted: EAN-13, EAN-8, UPC-A (12), UPC-E (8), GTIN-14, with spaces or dashes; a GS1
    element string carrying AI (01) (with or without parentheses, GS/FNC1 separators);
    a GS1 Digital Link URL (``/01/<gtin>`` or ``/gtin/<gtin>`` on any host); any of them
    after an AIM symbology identifier such as ``]E0``, ``]C1``, ``]d2``, ``]Q3``, ``]e0``.

    Eight digits: ``]E4`` means EAN-8 and ``]E0`` UPC-E. Without an identifier a code
    starting with 0 is read as UPC-E when its check digit fits the expansion to UPC-A
    (GS1 allows UPC-E only for number system 0, and an EAN-8 starting with 0 is an
    in-store RCN-8), else as EAN-8; codes starting with 1-9 are EAN-8. A 6-digit UPC-E
    body (no number system, no check digit) is refused: nothing could catch a typo in it.
    The check digit catches every single wrong digit within one reading; the one gap is an
    EAN-8 typo that turns its first digit into 0 and happens to be a valid UPC-E.

    Restricted circulation numbers parse like any other code (``Gtin.restricted`` tells
    them apart): the chain's own items carry them.

    ``details["reason"]`` is one of ``empty``, ``characters``, ``non_ascii_digits``
    (e.g. Arabic-Indic or full-width digits), ``length``, ``check_digit`` (with
    ``expected``) or ``no_gtin`` (an element string or link without AI 01); the lookup adds
    ``restricted`` (``unreadable_restricted``).
    """
    if len(text) <= _KEPT_TEXT:
        return _kept_reading(text)
    return Gtin(_read_gtin14(text))


# Readings of short texts are kept: every cart add and scan parses its barcode, and the
# same few thousand codes come back all day. A Gtin is immutable, so one is shared; a
# refusal raises and is never kept. Longer texts (GS1 element strings, links) are read anew.
_KEPT_TEXT = 32


@lru_cache(maxsize=8192)
def _kept_reading(text: str) -> Gtin:
    return Gtin(_read_gtin14(text))


@dataclass(frozen=True, slots=True)
class ScannedCode:
    """A well-formed scan read both ways: as a code in the catalog, and as a label.

    ``label`` is how the first configured template whose prefix matches reads a restricted
    code, else None. It counts only when no catalog product carries ``gtin``.
    """

    gtin: Gtin
    label: RestrictedCode | None


def parse_scan(
    text: str, templates: Sequence[RestrictedTemplate] = DEFAULT_TEMPLATES
) -> ScannedCode:
    """Given what the scanner read, return its GTIN and how a template would read it as a label.

    Raises ``InvalidGtin`` as ``parse_gtin`` does.
    """
    gtin = parse_gtin(text)
    return ScannedCode(gtin, read_label(gtin.digits, templates))


def unreadable_restricted(gtin: Gtin) -> InvalidGtin:
    """Return the error for a chain's own code that no product carries and no template reads."""
    return InvalidGtin(
        f"The barcode {gtin.display} is one of the chain's own codes (restricted circulation "
        "number), but no product carries it and no price or weight label template reads it.",
        details={"reason": "restricted", "raw": gtin.display},
    )


def _fail(reason: InvalidGtinReason, message: str, **details: object) -> NoReturn:
    raise InvalidGtin(message, details={"reason": reason, **details})


def _echo(text: str) -> str:
    shown = text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 1] + "…"
    return repr(shown)[1:-1]  # escapes control characters such as the GS separator


def _read_gtin14(text: str) -> str:
    """Return the 14 digits that ``text`` stands for, or raise InvalidGtin."""
    content = text.strip()  # also drops the CR/LF and leading FNC1 scanners add
    symbology = ""
    if match := _SYMBOLOGY_ID.match(content):
        symbology, content = match.group(), content[match.end() :].strip()
    if not content:
        _fail("empty", "No barcode was given.")
    if _URL.match(content):
        return _from_digital_link(content)
    if (
        symbology in _GS1_SYMBOLOGY_IDS
        or content.startswith("(")
        or _GS in content
        or (len(content) >= 16 and content.startswith("01") and _is_ascii_digits(content[2:16]))
    ):
        return _from_element_string(content)
    eight: Literal["auto", "ean8", "upce"] = "auto"
    if symbology == "]E4":
        eight = "ean8"
    elif symbology == "]E0" and content[:1] in ("0", "1"):
        eight = "upce"
    return _from_digits(content, eight=eight)


def _from_digital_link(url: str) -> str:
    try:
        segments = [unquote(s) for s in urlsplit(url).path.split("/")]
    except ValueError:
        segments = []
    for key, value in zip(segments, segments[1:], strict=False):
        if key in ("01", "gtin") and value:
            return _from_digits(value, eight="ean8")
    _fail("no_gtin", "This link does not carry a product number (GTIN).")


def _from_element_string(content: str) -> str:
    value: str | None
    if content.startswith("("):
        values: dict[str, str] = {}
        end = 0
        for match in _PARENTHESISED_AI.finditer(content):
            if match.start() != end:
                break
            values.setdefault(match.group(1), match.group(2).strip(_GS))
            end = match.end()
        value = values.get("01") if end == len(content) else None
    else:
        body = content.lstrip(_GS)
        if body.startswith("01"):
            # AI 01 is fixed-length, so when it comes first its 14 digits need no parser.
            value = body[2:16]
        else:
            try:
                value = gs1_128.info(body, separator=_GS).get("01")
            except Exception:
                # info() lets decimal, date and index errors escape on malformed values
                # (stdnum's own validate() wraps them the same way); none is a GTIN.
                value = None
    if value is None:
        _fail("no_gtin", "The scanned code does not carry a product number (GTIN).")
    return _from_digits(str(value), exact14=True)


def _from_digits(
    text: str, *, eight: Literal["auto", "ean8", "upce"] = "auto", exact14: bool = False
) -> str:
    compact = "".join(ch for ch in text if not (ch.isspace() or ch in _DASHES))
    if not compact:
        _fail("empty", "No barcode was given.")
    foreign = [ch for ch in compact if ch not in _ASCII_DIGITS]
    if other := [ch for ch in foreign if unicodedata.category(ch) != "Nd" and not ch.isdigit()]:
        _fail(
            "characters",
            f'The barcode {_echo(text)} contains "{_echo(other[0])}"; '
            "a barcode has only the digits 0-9, spaces and dashes.",
            character=other[0],
        )
    if foreign:
        # str.isdigit() accepts these; converting them silently would hide a keyboard or
        # encoding problem on the sending side, so they are refused with their own reason.
        _fail(
            "non_ascii_digits",
            f'The barcode {_echo(text)} uses digits other than 0-9 ("{_echo(foreign[0])}"); '
            "please type it with 0-9.",
            character=foreign[0],
        )
    length = len(compact)
    if exact14 and length != 14:
        _fail(
            "length",
            f"The product number {compact} in the GS1 code has {length} digits instead of 14.",
            length=length,
        )
    if length == 8:
        return _from_eight_digits(compact, eight)
    if length not in (12, 13, 14):
        _fail(
            "length",
            f"The barcode {_echo(compact)} has {length} digits; "
            "product barcodes have 8, 12, 13 or 14.",
            length=length,
        )
    _require_check_digit(compact, compact)
    return compact.zfill(14)


def _from_eight_digits(code: str, eight: Literal["auto", "ean8", "upce"]) -> str:
    if eight == "upce" or (eight == "auto" and code[0] == "0"):
        upc_a = _expand_upc_e(code)
        if _check_digit_ok(upc_a):
            return upc_a.zfill(14)
        if eight == "auto" and _check_digit_ok(code):
            return code.zfill(14)  # an RCN-8 (store-internal EAN-8)
        _require_check_digit(code, upc_a)
    _require_check_digit(code, code)
    return code.zfill(14)


def _require_check_digit(shown: str, code: str) -> None:
    expected = ean.calc_check_digit(code[:-1])
    if expected != code[-1]:
        _fail(
            "check_digit",
            f"The barcode {shown} has a wrong check digit (expected {expected}).",
            expected=expected,
        )


def _expand_upc_e(code: str) -> str:
    """Return the 12-digit UPC-A an 8-digit UPC-E (number system, 6 digits, check) stands for."""
    system, body, check = code[0], code[1:7], code[7]
    last = body[5]
    if last in "012":
        middle = body[:2] + last + "0000" + body[2:5]
    elif last == "3":
        middle = body[:3] + "00000" + body[3:5]
    elif last == "4":
        middle = body[:4] + "00000" + body[4]
    else:
        middle = body[:5] + "0000" + last
    return system + middle + check


def _compress_upc_e(upc_a: str) -> str | None:
    """Return the 8-digit UPC-E form of a UPC-A when zero suppression allows one, else None."""
    if upc_a[0] != "0":
        return None
    maker, product, check = upc_a[1:6], upc_a[6:11], upc_a[11]
    if maker[2] in "012" and maker[3:] == "00" and product[:2] == "00":
        body = maker[:2] + product[2:] + maker[2]
    elif maker[3:] == "00" and product[:3] == "000":
        body = maker[:3] + product[3:] + "3"
    elif maker[4] == "0" and product[:4] == "0000":
        body = maker[:4] + product[4] + "4"
    elif product[:4] == "0000" and product[4] in "56789":
        body = maker + product[4]
    else:
        return None
    return "0" + body + check
