"""Reading a catalog file row by row: JSON Lines or CSV, streamed, never held whole.

Formats, chosen by extension
----------------------------
``.jsonl``, ``.ndjson``, ``.json``: JSON Lines (one object per line; a ``.json`` file
holding one JSON array is refused with ``InvalidInput``). Field names are those of
``off-products.jsonl`` (Open Food Facts): ``code``, ``product_name``, ``brands`` (OFF's
comma list; the first brand becomes ``Product.brand``, the full text is kept in
``attributes["brands"]`` when it names several), ``categories`` (list of OFF tags or
labels), ``quantity``, ``image_url``; ``nutriscore_grade``, ``countries``, ``source_id``,
``lc`` are kept in ``Product.attributes``. Optional commerce fields use the CSV names below
(``description``, ``price``, ``currency``, ``campaign_*``) plus ``stock``, an object such as
``{"OSL-STORO": 4, "online": 20}``, and ``stores``, a list of store codes (``["OSL-STORO"]``).

``.csv``: UTF-8 (a BOM is fine), comma-separated, RFC 4180 quoting, one header row. Header
names are case-insensitive; unknown columns are ignored; ``gtin`` and ``name`` are required.

=======================  =====================================================================
column                   meaning
=======================  =====================================================================
``gtin``                 one or more barcodes separated by ``|`` (EAN-13, EAN-8, UPC-A,
                         GTIN-14, the chain's own codes with prefix 02, 04, 20-29 or RCN-8
                         0/2 too); the first is the primary one; every one must be valid
``stores``               store codes separated by ``|``: the row's own codes (restricted
                         circulation numbers) are this product only in those stores; empty:
                         in every store; no column: left as they are
``name``                 product name (required)
``brand``                brand, as is
``categories``           path broad → specific separated by ``>`` (``Dairy > Milk``); OFF tags
                         such as ``en:hazelnut-spreads`` become ``Hazelnut spreads``
``description``          free text
``quantity``             package size as printed (``500 g``); a leading plain measure also
                         fills ``net_amount``/``unit`` (normalised to g, ml, oz, fl oz, lb)
``image_url``            http(s) URL of the front image
``price``                regular price in **major units**, ``.`` or ``,`` as decimal separator,
                         no thousands separator: ``49.90``, ``49,90``, ``49``
``currency``             ISO 4217 code of ``price`` and ``campaign_price``; empty: the
                         ``currency`` passed to ``import_catalog``
``campaign_name``        campaign the ``campaign_price`` belongs to (required with it); a
                         campaign is found by name + window, and created when new
``campaign_price``       campaign price, major units like ``price``
``campaign_starts_at``   ISO 8601 date or date-time; no offset means UTC; empty: open start
``campaign_ends_at``     ISO 8601 (exclusive end); empty: open end
``stock:<STORE CODE>``   units on hand at that store's location (``stock:OSL-STORO``)
``stock:online``         units on hand in the online warehouse
``nutriscore_grade``,    kept in ``Product.attributes`` (``countries`` separated by ``|``)
``countries``, ``lc``,
``source_id``
=======================  =====================================================================

Every row comes out as a ``Record``: the 1-based physical line where it starts, its
original text, and its ``CheckedRow`` or the ``RowRejected`` saying why not. A bad row
never stops the file; only a file that cannot be read at all raises ``InvalidInput``.
"""

from __future__ import annotations

import csv
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

from server.errors import InvalidInput
from server.importer.rows import (
    CheckedRow,
    Locations,
    RowRejected,
    row_from_csv,
    row_from_json,
)

JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
CSV_SUFFIXES = frozenset({".csv"})

Record = tuple[int, str, CheckedRow | RowRejected]
RecordReader = Callable[["ByteLines", str, Locations], Iterator[Record]]

_UNDECODABLE = re.compile("[\udc80-\udcff]")


class ByteLines:
    """A binary file's lines as (line number, text), counting the bytes consumed.

    Undecodable bytes are kept as surrogates so that their row is rejected, not the file.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.consumed = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for number, data in enumerate(self._stream, start=1):
            self.consumed += len(data)
            text = data.decode("utf-8", errors="surrogateescape")
            yield number, text.removeprefix("\ufeff") if number == 1 else text


def printable(raw: str) -> str:
    """Return the raw text with undecodable bytes shown as U+FFFD, so the report stays UTF-8."""
    if not _has_bad_bytes(raw):
        return raw
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def reader_for(path: Path) -> RecordReader:
    """Given a catalog file's path, return the reader of its format or raise InvalidInput."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_records
    if suffix in JSON_SUFFIXES:
        return _json_records
    raise InvalidInput(
        f"Cannot tell the format of {path.name}: use .jsonl, .ndjson, .json or .csv",
        field="path",
    )


def _has_bad_bytes(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def _require_utf8(raw: str) -> None:
    if _has_bad_bytes(raw):
        raise RowRejected("encoding", "The line is not valid UTF-8.")


def _json_records(source: ByteLines, currency: str, locations: Locations) -> Iterator[Record]:
    for line, text in source:
        raw = text.rstrip("\r\n")
        if not raw.strip():
            continue
        if line == 1 and raw.lstrip().startswith("["):
            raise InvalidInput(
                "This .json file holds a JSON array; write one object per line (JSON Lines).",
                field="path",
            )
        try:
            _require_utf8(raw)
            try:
                obj = json.loads(raw, parse_float=Decimal)
            except ValueError as exc:
                raise RowRejected("malformed", f"Not valid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise RowRejected("malformed", "The line is JSON but not an object.")
            yield line, raw, row_from_json(obj, line, raw, currency, locations)
        except RowRejected as rejected:
            yield line, raw, rejected


class _Lines:
    """Feeds csv.reader line by line, remembers each record's lines, and can re-read them."""

    def __init__(self, source: ByteLines) -> None:
        self._source = iter(source)
        self._again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        item = self._again.popleft() if self._again else next(self._source)
        self.taken.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def reread(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _csv_records(source: ByteLines, currency: str, locations: Locations) -> Iterator[Record]:
    lines = _Lines(source)
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidInput(f"The CSV header cannot be read: {exc}", field="path") from None
    lines.take()
    columns = _csv_columns(header)
    while True:
        try:
            cells = next(reader)
            error = (
                None
                if len(cells) == len(header)
                else f"{len(cells)} fields, header has {len(header)}"
            )
        except StopIteration:
            return
        except csv.Error as exc:
            cells, error = [], str(exc)
        taken = lines.take()
        if not taken:  # csv.Error before any line was consumed
            return
        line, raw = taken[0][0], "".join(text for _, text in taken).rstrip("\r\n")
        if not raw.strip():
            continue
        if error is not None:
            # A stray quote makes one "record" of many lines; re-read all but the first line
            # so one bad row costs one row.
            lines.reread(taken[1:])
            yield (
                line,
                taken[0][1].rstrip("\r\n"),
                RowRejected("malformed", f"Bad CSV row: {error}"),
            )
            continue
        try:
            _require_utf8(raw)
            yield line, raw, row_from_csv(columns, cells, line, raw, currency, locations)
        except RowRejected as rejected:
            yield line, raw, rejected


def _csv_columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.lower()
        if key.startswith("stock:"):
            key = "stock:" + name.split(":", 1)[1].strip()
        if key in columns:
            raise InvalidInput(f"The CSV header has the column {name!r} twice.", field="path")
        columns[key] = index
    missing = [c for c in ("gtin", "name") if c not in columns]
    if missing:
        raise InvalidInput(
            f"The CSV header lacks the column(s) {', '.join(missing)}.", field="path"
        )
    return columns
