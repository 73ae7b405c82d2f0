"""Catalog import: stream a JSON Lines or CSV file of products into the database, by barcode.

``import_catalog`` reads the file one row at a time (it never holds the whole file), checks
each row, and writes the accepted rows in batches of ``batch_size``: one transaction and a
fixed handful of set-based queries per batch (look up every barcode of the batch at once,
bulk INSERT what is new, executemany UPDATE what changed).

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
``{"OSL-STORO": 4, "online": 20}``.

``.csv``: UTF-8 (a BOM is fine), comma-separated, RFC 4180 quoting, one header row. Header
names are case-insensitive; unknown columns are ignored; ``gtin`` and ``name`` are required.

=======================  =====================================================================
column                   meaning
=======================  =====================================================================
``gtin``                 one or more barcodes separated by ``|`` (EAN-13, EAN-8, UPC-A,
                         GTIN-14); the first is the primary one; every one must be valid
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

Rules
-----
- A row is matched to a product by the canonical GTIN-14 of its barcodes, so
  ``0000080007838`` and ``80007838`` (or a UPC-A and its EAN-13 form) are one product. A
  second row in the same file with an already-seen GTIN is rejected (``duplicate_gtin``):
  first row wins, which keeps a re-import a no-op.
- New product: SKU = the display form of its primary GTIN (``Gtin.display``: EAN-8, EAN-13
  also for UPC-A, or GTIN-14), set once and never changed by later imports.
- Known product: only the fields the file carries are written (a missing JSON key or CSV
  column leaves the field alone; an empty cell clears it); ``attributes`` are merged key by
  key; barcodes are added, never removed; ``active`` and the SKU are left alone. An empty
  ``price``/stock cell leaves that figure alone; nothing is ever deleted.
- A product is *unchanged* when nothing it has would change: then no UPDATE, no
  ``updated_at`` bump, no outbox row. Products created or changed (data, barcodes, price,
  campaign price or stock) get one outbox row per batch (``record_product_changes``).
  ``updated_at`` moves when the product row or its barcodes change.
- Stock figures set ``on_hand``; ``reserved`` is kept.

Rejected rows never stop the import. Each one is written to the report (CSV with columns
``line,reason,message,raw``: 1-based physical line where the row starts, a reason code, a
readable message, the row's original text), sorted by line within each batch. Reason codes:
``malformed`` (not a JSON object / wrong CSV field count), ``encoding`` (not UTF-8),
``gtin_<reason>`` (``server.gtin`` reasons: ``gtin_empty``, ``gtin_characters``,
``gtin_non_ascii_digits``, ``gtin_length``, ``gtin_check_digit``, ``gtin_restricted`` for
in-store labels, ``gtin_no_gtin``), ``duplicate_gtin``, ``gtin_conflict`` (barcodes of two
different products), ``sku_conflict``, ``missing_name``, ``field_too_long``,
``bad_value``, ``bad_price``, ``bad_currency``, ``bad_campaign``, ``bad_stock``,
``unknown_store``, ``stock_below_reserved``, ``bad_image_url``.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database
from server.errors import InvalidGtin, InvalidInput
from server.gtin import Gtin, parse_gtin
from server.models import (
    Campaign,
    CampaignPrice,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
    utcnow,
)
from server.money import minor_unit_exponent
from server.outbox import record_product_changes

ProgressCallback = Callable[[int, int], None]

JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
CSV_SUFFIXES = frozenset({".csv"})
REPORT_COLUMNS = ("line", "reason", "message", "raw")
ONLINE_KEY = "online"

# Product columns the import writes, with their length limits (None: unlimited text).
_LIMITS: dict[str, int | None] = {
    "name": 300,
    "brand": 200,
    "description": None,
    "quantity": 100,
    "image_url": 1000,
}
_PRODUCT_FIELDS = (
    "name", "brand", "description", "categories", "quantity", "unit", "net_amount", "image_url",
)  # fmt: skip
_OFF_ATTRIBUTES = ("nutriscore_grade", "countries", "source_id", "lc")
_OFF_TAG = re.compile(r"^[a-z]{2}:(.+)$")
_NULL_CATEGORIES = frozenset({"null", "en:null"})
_QUANTITY = re.compile(
    r"^\s*(\d+(?:[.,]\d+)?)\s*"
    r"(kg|kilos?|g|gr|grams?|grammes?|mg|l|ltr|lit(?:er|re)s?|ml|cl|dl|fl\.?\s?oz|oz|lbs?)\b",
    re.IGNORECASE,
)
_UNIT_SCALE: dict[str, tuple[str, Decimal]] = {
    "kg": ("g", Decimal(1000)), "kilo": ("g", Decimal(1000)), "kilos": ("g", Decimal(1000)),
    "g": ("g", Decimal(1)), "gr": ("g", Decimal(1)), "gram": ("g", Decimal(1)),
    "grams": ("g", Decimal(1)), "gramme": ("g", Decimal(1)), "grammes": ("g", Decimal(1)),
    "mg": ("g", Decimal("0.001")), "l": ("ml", Decimal(1000)), "ltr": ("ml", Decimal(1000)),
    "liter": ("ml", Decimal(1000)), "litre": ("ml", Decimal(1000)),
    "liters": ("ml", Decimal(1000)), "litres": ("ml", Decimal(1000)),
    "ml": ("ml", Decimal(1)), "cl": ("ml", Decimal(10)), "dl": ("ml", Decimal(100)),
    "oz": ("oz", Decimal(1)), "lb": ("lb", Decimal(1)), "lbs": ("lb", Decimal(1)),
}  # fmt: skip
_MAX_MINOR = 10**12  # a price beyond this is a typo, and BIGINT-safe
_MAX_STOCK = 2**31 - 1
_BATCH_ATTEMPTS = 3  # a concurrent writer may take a barcode between our lookup and insert


@dataclass(frozen=True)
class ImportReport:
    """What one import did: rows read, products created/updated/unchanged, rows rejected."""

    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    report_path: Path | None
    # Rejected rows per reason code, for summaries; the report file has the details.
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)


class RowRejected(Exception):
    """A row that cannot be imported, with a stable reason code and a readable message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class _Offer:
    campaign: tuple[str, datetime | None, datetime | None]  # name, starts_at, ends_at
    currency: str
    amount: int


@dataclass(slots=True)
class _Row:
    """One accepted row, checked and normalised, waiting for its batch."""

    line: int
    raw: str
    gtins: list[Gtin]
    fields: dict[str, Any]  # product columns the file sets
    attributes: dict[str, Any]  # merged into Product.attributes; None removes a key
    price: tuple[str, int] | None  # (currency, amount)
    offer: _Offer | None
    stock: dict[int, int]  # location id -> on hand


@dataclass(frozen=True, slots=True)
class _Rejection:
    line: int
    reason: str
    message: str
    raw: str


@dataclass(slots=True)
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class _Locations:
    by_store_code: dict[str, int]
    online: int | None

    def resolve(self, key: str) -> int:
        """Return the location id a stock column/key names, or reject the row."""
        if key.strip().lower() == ONLINE_KEY:
            if self.online is None:
                raise RowRejected("unknown_store", "There is no online warehouse to stock.")
            return self.online
        code = key.strip()
        found = self.by_store_code.get(code)
        if found is None:
            found = self.by_store_code.get(code.upper())
        if found is None:
            raise RowRejected("unknown_store", f"No store has the code {code!r}.")
        return found


# --------------------------------------------------------------------------------------------
# The entry point


async def import_catalog(
    db: Database,
    path: Path,
    *,
    currency: str,
    report_path: Path | None = None,
    on_progress: ProgressCallback | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Given a JSON Lines or CSV product file, upsert its products by barcode and report counts.

    ``currency`` is the ISO 4217 code of prices that name none. ``report_path``, when given,
    receives every rejected row (see the module docstring); without it rejected rows are
    only counted. ``on_progress(bytes_done, bytes_total)`` is called after every batch, in
    bytes of the file read so far (exact for every format, and the file size is known
    up front). Raises ``InvalidInput`` for a file that cannot be read at all (unknown
    extension, CSV without ``gtin``/``name`` columns, a JSON array).
    """
    default_currency = _currency(currency, default=None)
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1", field="batch_size")
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES | CSV_SUFFIXES:
        raise InvalidInput(
            f"Cannot tell the format of {path.name}: use .jsonl, .ndjson, .json or .csv",
            field="path",
        )
    async with db.transaction(write=False) as session:
        locations = await _load_locations(session)

    rows = 0
    tally = _Tally()
    reasons: Counter[str] = Counter()
    seen: dict[str, int] = {}  # canonical GTIN -> line that brought it (first one wins)
    batch: list[_Row] = []
    pending: list[_Rejection] = []

    report_file = report_path.open("w", newline="", encoding="utf-8") if report_path else None
    report = csv.writer(report_file) if report_file else None
    if report:
        report.writerow(REPORT_COLUMNS)

    async def flush() -> None:
        nonlocal pending, batch
        rejected = await _write_batch_with_retry(db, batch, tally) if batch else []
        for rejection in sorted(pending + rejected, key=lambda r: r.line):
            reasons[rejection.reason] += 1
            if report:
                report.writerow(
                    (rejection.line, rejection.reason, rejection.message, _printable(rejection.raw))
                )
        batch, pending = [], []
        if on_progress:
            on_progress(min(source.consumed, total_bytes), total_bytes)

    try:
        with path.open("rb") as stream:
            total_bytes = os.fstat(stream.fileno()).st_size
            source = _ByteLines(stream)
            records = (
                _csv_records(source, default_currency, locations)
                if suffix in CSV_SUFFIXES
                else _json_records(source, default_currency, locations)
            )
            for line, raw, outcome in records:
                rows += 1
                if isinstance(outcome, RowRejected):
                    pending.append(_Rejection(line, outcome.reason, outcome.message, raw))
                    if len(pending) >= batch_size:
                        await flush()
                    continue
                duplicate = next((seen[g.digits] for g in outcome.gtins if g.digits in seen), None)
                if duplicate is not None:
                    message = f"A row on line {duplicate} already has this barcode."
                    pending.append(_Rejection(line, "duplicate_gtin", message, raw))
                    continue
                seen.update((g.digits, line) for g in outcome.gtins)
                batch.append(outcome)
                if len(batch) >= batch_size:
                    await flush()
            await flush()
    finally:
        if report_file:
            report_file.close()

    return ImportReport(
        rows=rows,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        rejected=sum(reasons.values()),
        report_path=report_path,
        rejected_by_reason=dict(reasons),
    )


# --------------------------------------------------------------------------------------------
# Reading files


class _ByteLines:
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


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _has_bad_bytes(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def _printable(raw: str) -> str:
    """Return the raw text with undecodable bytes shown as U+FFFD, so the report stays UTF-8."""
    if not _has_bad_bytes(raw):
        return raw
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


Record = tuple[int, str, "_Row | RowRejected"]


def _json_records(source: _ByteLines, currency: str, locations: _Locations) -> Iterator[Record]:
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
            if _has_bad_bytes(raw):
                raise RowRejected("encoding", "The line is not valid UTF-8.")
            try:
                obj = json.loads(raw, parse_float=Decimal)
            except ValueError as exc:
                raise RowRejected("malformed", f"Not valid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise RowRejected("malformed", "The line is JSON but not an object.")
            yield line, raw, _row_from_json(obj, line, raw, currency, locations)
        except RowRejected as rejected:
            yield line, raw, rejected


class _Lines:
    """Feeds csv.reader line by line, remembers each record's lines, and can re-read them."""

    def __init__(self, source: _ByteLines) -> None:
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


def _csv_records(source: _ByteLines, currency: str, locations: _Locations) -> Iterator[Record]:
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
            if _has_bad_bytes(raw):
                raise RowRejected("encoding", "The line is not valid UTF-8.")
            yield line, raw, _row_from_csv(columns, cells, line, raw, currency, locations)
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


# --------------------------------------------------------------------------------------------
# Checking and normalising one row


def _row_from_json(
    obj: dict[str, Any], line: int, raw: str, currency: str, locations: _Locations
) -> _Row:
    codes = obj.get("code")
    gtins = _gtins([_text(codes, "code") or ""] if not isinstance(codes, list) else codes)
    fields: dict[str, Any] = {"name": _name(obj.get("product_name"))}
    attributes: dict[str, Any] = {}
    if "brands" in obj:
        brands = _text(obj["brands"], "brands")
        first = next((b.strip() for b in (brands or "").split(",") if b.strip()), None)
        fields["brand"] = first
        attributes["brands"] = brands if brands and brands != first else None
    if "categories" in obj:
        value = obj["categories"]
        if isinstance(value, str):
            value = value.split(">") if ">" in value else value.split(",")
        if not isinstance(value, list):
            raise RowRejected("bad_value", "categories must be a list of strings.")
        fields["categories"] = _categories(value)
    for key in ("description", "quantity", "image_url"):
        if key in obj:
            fields[key] = _text(obj[key], key)
    for key in _OFF_ATTRIBUTES:
        if key in obj:
            attributes[key] = _attribute(obj[key], key)
    stock = obj.get("stock") or {}
    if not isinstance(stock, dict):
        raise RowRejected("bad_stock", 'stock must be an object such as {"online": 5}.')
    levels = {
        locations.resolve(str(key)): _stock_value(value, str(key))
        for key, value in stock.items()
        if value is not None
    }
    return _finish(line, raw, gtins, fields, attributes, obj, currency, levels)


def _row_from_csv(
    columns: dict[str, int],
    cells: list[str],
    line: int,
    raw: str,
    currency: str,
    locations: _Locations,
) -> _Row:
    values = {key: cells[index].strip() for key, index in columns.items()}
    gtins = _gtins([c for c in values["gtin"].split("|") if c.strip()] or [""])
    fields: dict[str, Any] = {"name": _name(values["name"])}
    for key in ("brand", "description", "quantity", "image_url"):
        if key in values:
            fields[key] = values[key] or None
    if "categories" in values:
        fields["categories"] = _categories(values["categories"].split(">"))
    attributes: dict[str, Any] = {}
    for key in _OFF_ATTRIBUTES:
        if key in values:
            value: Any = values[key] or None
            if key == "countries" and value:
                value = [c.strip() for c in value.split("|") if c.strip()]
            attributes[key] = value
    stock: dict[int, int] = {}
    for key, value in values.items():
        if key.startswith("stock:") and value:
            name = key.split(":", 1)[1]
            stock[locations.resolve(name)] = _stock_value(value, name)
    return _finish(line, raw, gtins, fields, attributes, values, currency, stock)


def _finish(
    line: int,
    raw: str,
    gtins: list[Gtin],
    fields: dict[str, Any],
    attributes: dict[str, Any],
    source: Mapping[str, Any],
    default_currency: str,
    stock: dict[int, int],
) -> _Row:
    for key, limit in _LIMITS.items():
        value = fields.get(key)
        if limit is not None and value is not None and len(value) > limit:
            raise RowRejected("field_too_long", f"{key} is longer than {limit} characters.")
    image = fields.get("image_url")
    if image is not None and not image.lower().startswith(("http://", "https://")):
        raise RowRejected("bad_image_url", "image_url must be an http:// or https:// address.")
    if "quantity" in fields:
        fields["net_amount"], fields["unit"] = _measure(fields["quantity"])
    row_currency = _currency(source.get("currency"), default=default_currency)
    price_text = source.get("price")
    price = None
    if price_text not in (None, ""):
        price = (row_currency, _minor_units(price_text, row_currency, "price"))
    return _Row(line, raw, gtins, fields, attributes, price, _offer(source, row_currency), stock)


def _gtins(codes: list[Any]) -> list[Gtin]:
    gtins: list[Gtin] = []
    for code in codes:
        try:
            gtin = parse_gtin(_text(code, "code") or "")
        except InvalidGtin as exc:
            reason = (
                exc.details.get("reason", "invalid") if isinstance(exc.details, dict) else "invalid"
            )
            raise RowRejected(f"gtin_{reason}", exc.message) from None
        if gtin not in gtins:
            gtins.append(gtin)
    return gtins


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RowRejected("bad_value", f"{key} must be text.")
    return str(value).strip() or None


def _name(value: Any) -> str:
    name = _text(value, "name")
    if name is None:
        raise RowRejected("missing_name", "The row has no product name.")
    return name


def _attribute(value: Any, key: str) -> Any:
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()] or None
    return _text(value, key)


def category_label(entry: str) -> str | None:
    """Return the readable label of an OFF category tag or plain category, None for ``en:null``.

    ``en:hazelnut-spreads`` becomes ``Hazelnut spreads``; plain text is kept as written.
    """
    text = entry.strip()
    if not text or text.lower() in _NULL_CATEGORIES:
        return None
    if match := _OFF_TAG.match(text):
        words = match.group(1).replace("-", " ").replace("_", " ").split()
        if not words:
            return None
        label = " ".join(words)
        return label[0].upper() + label[1:]
    return text


def _categories(entries: list[Any]) -> list[str]:
    labels: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise RowRejected("bad_value", "categories must be strings.")
        label = category_label(entry)
        if label and label not in labels:
            labels.append(label)
    return labels


def _measure(quantity: str | None) -> tuple[float | None, str | None]:
    match = _QUANTITY.match(quantity or "")
    if not match:
        return None, None
    unit_text = re.sub(r"[\s.]", "", match.group(2).lower())
    unit, factor = ("fl oz", Decimal(1)) if unit_text == "floz" else _UNIT_SCALE[unit_text]
    return float(Decimal(match.group(1).replace(",", ".")) * factor), unit


def _currency(value: Any, *, default: str | None) -> str:
    text = (str(value).strip() if value is not None else "") or default or ""
    if len(text) != 3 or not text.isascii() or not text.isalpha():
        if default is None:
            raise InvalidInput("currency must be an ISO 4217 code such as NOK", field="currency")
        raise RowRejected("bad_currency", f"{text!r} is not an ISO 4217 currency code.")
    return text.upper()


def _minor_units(value: Any, currency: str, key: str) -> int:
    reason = "bad_campaign" if key.startswith("campaign") else "bad_price"
    text = str(value).strip()
    if isinstance(value, bool) or text.count(",") + text.count(".") > 1:
        raise RowRejected(reason, f"{key} {text!r} is not a price like 49.90.")
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise RowRejected(reason, f"{key} {text!r} is not a price like 49.90.") from None
    exponent = minor_unit_exponent(currency)
    minor = amount.scaleb(exponent)
    if not amount.is_finite() or minor != minor.to_integral_value():
        raise RowRejected(reason, f"{key} {text!r} has more than {exponent} decimals.")
    if not 0 <= minor < _MAX_MINOR:
        raise RowRejected(reason, f"{key} {text!r} is out of range.")
    return int(minor)


def _moment(value: Any, key: str) -> datetime | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowRejected("bad_campaign", f"{key} {text!r} is not an ISO 8601 date.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _offer(source: Mapping[str, Any], currency: str) -> _Offer | None:
    name = _text(source.get("campaign_name"), "campaign_name")
    price = source.get("campaign_price")
    starts = _moment(source.get("campaign_starts_at"), "campaign_starts_at")
    ends = _moment(source.get("campaign_ends_at"), "campaign_ends_at")
    if price in (None, ""):
        if name or starts or ends:
            raise RowRejected("bad_campaign", "A campaign needs a campaign_price.")
        return None
    if not name:
        raise RowRejected("bad_campaign", "campaign_price needs a campaign_name.")
    if len(name) > 200:
        raise RowRejected("field_too_long", "campaign_name is longer than 200 characters.")
    if starts and ends and ends <= starts:
        raise RowRejected("bad_campaign", "campaign_ends_at must be after campaign_starts_at.")
    return _Offer((name, starts, ends), currency, _minor_units(price, currency, "campaign_price"))


def _stock_value(value: Any, key: str) -> int:
    text = str(value).strip()
    if (
        isinstance(value, bool)
        or not text.isascii()
        or not text.isdigit()
        or int(text) > _MAX_STOCK
    ):
        raise RowRejected("bad_stock", f"Stock for {key} must be a whole number ≥ 0, not {text!r}.")
    return int(text)


# --------------------------------------------------------------------------------------------
# Writing one batch


async def _load_locations(session: AsyncSession) -> _Locations:
    rows = await session.execute(
        select(Store.code, StockLocation.id).join(StockLocation, StockLocation.store_id == Store.id)
    )
    by_code: dict[str, int] = {}
    for code, location_id in rows:
        by_code[code] = location_id
        by_code.setdefault(code.upper(), location_id)
    online = (
        (
            await session.execute(
                select(StockLocation.id)
                .where(StockLocation.online.is_(True))
                .order_by(StockLocation.id)
            )
        )
        .scalars()
        .first()
    )
    return _Locations(by_code, online)


async def _write_batch_with_retry(
    db: Database, rows: list[_Row], tally: _Tally
) -> list[_Rejection]:
    for attempt in range(1, _BATCH_ATTEMPTS + 1):
        batch_tally = _Tally()
        try:
            async with db.transaction(write=True) as session:
                rejected = await _write_batch(session, rows, batch_tally)
        except IntegrityError:
            if attempt == _BATCH_ATTEMPTS:
                raise
            continue
        tally.created += batch_tally.created
        tally.updated += batch_tally.updated
        tally.unchanged += batch_tally.unchanged
        return rejected
    raise AssertionError("unreachable")


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _reject(row: _Row, reason: str, message: str) -> _Rejection:
    return _Rejection(row.line, reason, message, row.raw)


async def _write_batch(session: AsyncSession, rows: list[_Row], tally: _Tally) -> list[_Rejection]:
    """Upsert one batch of checked rows in the caller's transaction; return late rejections."""
    rejected: list[_Rejection] = []
    now = utcnow()
    owners = dict(
        (
            await session.execute(
                select(ProductBarcode.gtin, ProductBarcode.product_id).where(
                    ProductBarcode.gtin.in_({g.digits for r in rows for g in r.gtins})
                )
            )
        ).all()
    )
    existing: list[tuple[_Row, int]] = []
    new: list[_Row] = []
    for row in rows:
        ids = {owners[g.digits] for g in row.gtins if g.digits in owners}
        if len(ids) > 1:
            rejected.append(
                _reject(row, "gtin_conflict", "The barcodes belong to different products.")
            )
        elif ids:
            existing.append((row, ids.pop()))
        else:
            new.append(row)

    # New products: the SKU comes from the primary GTIN; a row whose SKU another product
    # already has is skipped by ON CONFLICT (no lookup query, and safe against racing imports).
    skus = {row.gtins[0].display: row for row in new}
    product_ids: dict[int, int] = {}  # line -> product id
    if skus:
        dialect_insert = (
            pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        inserted = await session.execute(
            dialect_insert(_table(Product))
            .on_conflict_do_nothing(index_elements=["sku"])
            .returning(Product.id, Product.sku),
            [_new_product(row, sku, now) for sku, row in skus.items()],
        )
        by_sku = {sku: pid for pid, sku in inserted}
        for sku, row in list(skus.items()):
            if sku in by_sku:
                product_ids[row.line] = by_sku[sku]
            else:
                del skus[sku]
                rejected.append(_reject(row, "sku_conflict", f"Another product has SKU {sku}."))
    new = list(skus.values())
    tally.created += len(new)

    current = await _current_state(session, [pid for _, pid in existing])
    changed: set[int] = set()
    product_updates: list[dict[str, Any]] = []
    kept: list[tuple[_Row, int]] = []
    for row, pid in existing:
        too_low = [
            loc
            for loc, on_hand in row.stock.items()
            if on_hand < current.stock.get((loc, pid), (0, 0))[1]
        ]
        if too_low:
            rejected.append(
                _reject(
                    row, "stock_below_reserved", "New stock is below what orders have reserved."
                )
            )
            continue
        kept.append((row, pid))
        product_ids[row.line] = pid
        values = _updated_product(current.products[pid], row)
        if values is not None or any(g.digits not in owners for g in row.gtins):
            columns = {**(values or current.products[pid]), "updated_at": now}
            product_updates.append({"b_id": pid, **{f"v_{k}": v for k, v in columns.items()}})
            changed.add(pid)
    if product_updates:
        table = _table(Product)
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k[2:]: bindparam(k) for k in product_updates[0] if k != "b_id"}),
            product_updates,
        )

    new_lines = {row.line for row in new}
    accepted = [*new, *(r for r, _ in kept)]
    barcodes = [
        {
            "product_id": product_ids[row.line],
            "gtin": g.digits,
            "is_primary": i == 0 and row.line in new_lines,
        }
        for row in accepted
        for i, g in enumerate(row.gtins)
        if g.digits not in owners
    ]
    if barcodes:
        await session.execute(insert(_table(ProductBarcode)), barcodes)

    changed |= await _write_prices(session, accepted, product_ids, current)
    changed |= await _write_offers(session, accepted, product_ids)
    changed |= await _write_stock(session, accepted, product_ids, current, now)
    changed -= {product_ids[r.line] for r in new}
    tally.updated += len(changed)
    tally.unchanged += len(kept) - len(changed)
    await record_product_changes(session, [*changed, *(product_ids[r.line] for r in new)])
    return rejected


def _new_product(row: _Row, sku: str, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": row.fields["name"], "brand": None, "description": None, "categories": [],
        "quantity": None, "unit": None, "net_amount": None, "image_url": None,
    }  # fmt: skip
    values.update(row.fields)
    attributes = {k: v for k, v in row.attributes.items() if v is not None}
    return {**values, "sku": sku, "attributes": attributes, "active": True,
            "created_at": now, "updated_at": now}  # fmt: skip


def _updated_product(current: dict[str, Any], row: _Row) -> dict[str, Any] | None:
    """Return the product columns after applying the row, or None when nothing changes."""
    values = {**current, **row.fields}
    attributes = dict(current["attributes"] or {})
    for key, value in row.attributes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    values["attributes"] = attributes
    return None if values == current else values


@dataclass(slots=True)
class _State:
    products: dict[int, dict[str, Any]]
    prices: dict[tuple[int, str], int]
    stock: dict[tuple[int, int], tuple[int, int]]  # (location, product) -> (on hand, reserved)


async def _current_state(session: AsyncSession, ids: list[int]) -> _State:
    """Return what the batch's known products have now: columns, prices and stock."""
    columns = [getattr(Product, name) for name in _PRODUCT_FIELDS]
    products: dict[int, dict[str, Any]] = {}
    prices: dict[tuple[int, str], int] = {}
    stock: dict[tuple[int, int], tuple[int, int]] = {}
    if ids:
        for row in await session.execute(
            select(Product.id, Product.attributes, *columns).where(Product.id.in_(ids))
        ):
            products[row[0]] = {
                "attributes": row[1],
                **dict(zip(_PRODUCT_FIELDS, row[2:], strict=True)),
            }
        prices = {
            (pid, cur): amount
            for pid, cur, amount in await session.execute(
                select(Price.product_id, Price.currency, Price.amount).where(
                    Price.product_id.in_(ids)
                )
            )
        }
        stock = {
            (loc, pid): (on_hand, reserved)
            for loc, pid, on_hand, reserved in await session.execute(
                select(
                    StockLevel.location_id, StockLevel.product_id,
                    StockLevel.on_hand, StockLevel.reserved,
                ).where(StockLevel.product_id.in_(ids))
            )
        }  # fmt: skip
    return _State(products, prices, stock)


async def _campaigns(
    session: AsyncSession, wanted: set[tuple[str, datetime | None, datetime | None]]
) -> dict[tuple[str, datetime | None, datetime | None], int]:
    """Return the ids of the campaigns the batch names, creating the missing ones."""
    if not wanted:
        return {}
    found: dict[tuple[str, datetime | None, datetime | None], int] = {}
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.starts_at, Campaign.ends_at)
        .where(Campaign.name.in_({name for name, _, _ in wanted}))
        .order_by(Campaign.id)
    )
    for cid, name, starts, ends in rows:
        found.setdefault((name, starts, ends), cid)
    for key in sorted(wanted - found.keys(), key=lambda k: (k[0], str(k[1]), str(k[2]))):
        name, starts, ends = key
        found[key] = (
            await session.execute(
                insert(Campaign)
                .values(name=name, starts_at=starts, ends_at=ends)
                .returning(Campaign.id)
            )
        ).scalar_one()
    return found


async def _write_prices(
    session: AsyncSession, rows: list[_Row], product_ids: dict[int, int], state: _State
) -> set[int]:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        if row.price is None:
            continue
        pid, (currency, amount) = product_ids[row.line], row.price
        before = state.prices.get((pid, currency))
        if before is None:
            inserts.append({"product_id": pid, "currency": currency, "amount": amount})
        elif before != amount:
            updates.append({"b_product": pid, "b_currency": currency, "v_amount": amount})
    if inserts:
        await session.execute(insert(_table(Price)), inserts)
    if updates:
        table = _table(Price)
        await session.execute(
            update(table)
            .where(
                table.c.product_id == bindparam("b_product"),
                table.c.currency == bindparam("b_currency"),
            )
            .values(amount=bindparam("v_amount")),
            updates,
        )
    return {d["product_id"] for d in inserts} | {d["b_product"] for d in updates}


async def _write_offers(
    session: AsyncSession, rows: list[_Row], product_ids: dict[int, int]
) -> set[int]:
    offered = [row for row in rows if row.offer is not None]
    if not offered:
        return set()
    campaigns = await _campaigns(session, {row.offer.campaign for row in offered if row.offer})
    before_by_key = {
        (cid, pid, cur): amount
        for cid, pid, cur, amount in await session.execute(
            select(
                CampaignPrice.campaign_id, CampaignPrice.product_id,
                CampaignPrice.currency, CampaignPrice.amount,
            ).where(
                CampaignPrice.product_id.in_({product_ids[row.line] for row in offered}),
                CampaignPrice.campaign_id.in_(set(campaigns.values())),
            )
        )
    }  # fmt: skip
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in offered:
        if row.offer is None:
            continue
        pid, cid = product_ids[row.line], campaigns[row.offer.campaign]
        before = before_by_key.get((cid, pid, row.offer.currency))
        values = {"campaign_id": cid, "product_id": pid, "currency": row.offer.currency}
        if before is None:
            inserts.append({**values, "amount": row.offer.amount})
        elif before != row.offer.amount:
            updates.append(
                {f"b_{k}": v for k, v in values.items()} | {"v_amount": row.offer.amount}
            )
    if inserts:
        await session.execute(insert(_table(CampaignPrice)), inserts)
    if updates:
        table = _table(CampaignPrice)
        await session.execute(
            update(table)
            .where(
                table.c.campaign_id == bindparam("b_campaign_id"),
                table.c.product_id == bindparam("b_product_id"),
                table.c.currency == bindparam("b_currency"),
            )
            .values(amount=bindparam("v_amount")),
            updates,
        )
    return {d["product_id"] for d in inserts} | {d["b_product_id"] for d in updates}


async def _write_stock(
    session: AsyncSession,
    rows: list[_Row],
    product_ids: dict[int, int],
    state: _State,
    now: datetime,
) -> set[int]:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        pid = product_ids[row.line]
        for location, on_hand in row.stock.items():
            before = state.stock.get((location, pid))
            if before is None:
                inserts.append({"location_id": location, "product_id": pid, "on_hand": on_hand,
                                "reserved": 0, "updated_at": now})  # fmt: skip
            elif before[0] != on_hand:
                updates.append({"b_location": location, "b_product": pid, "v_on_hand": on_hand,
                                "v_updated_at": now})  # fmt: skip
    if inserts:
        await session.execute(insert(_table(StockLevel)), inserts)
    if updates:
        table = _table(StockLevel)
        await session.execute(
            update(table)
            .where(
                table.c.location_id == bindparam("b_location"),
                table.c.product_id == bindparam("b_product"),
            )
            .values(on_hand=bindparam("v_on_hand"), updated_at=bindparam("v_updated_at")),
            updates,
        )
    return {d["product_id"] for d in inserts} | {d["b_product"] for d in updates}
