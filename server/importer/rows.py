"""Checking one row and normalising it into a ``CheckedRow``, or rejecting it with a reason.

The functions here know nothing of files or the database: ``row_from_json`` and
``row_from_csv`` take one parsed row (a JSON object, or CSV cells by column), the known
stock locations and the default currency, and return a ``CheckedRow`` ready for its batch
or raise ``RowRejected``. The column meanings are those of ``server.importer.reading``.

Reason codes
------------
Every rejected row carries one of these stable codes (in the report's ``reason`` column
and in ``ImportReport.rejected_by_reason``):

- ``malformed``: not a JSON object / wrong CSV field count; ``encoding``: not UTF-8;
- ``gtin_<reason>``, the ``server.gtin`` reasons: ``gtin_empty``, ``gtin_characters``,
  ``gtin_non_ascii_digits``, ``gtin_length``, ``gtin_check_digit``, ``gtin_no_gtin``
  (the chain's own codes, restricted circulation numbers, are product codes like any other);
- ``duplicate_gtin`` (an earlier row of the file has the barcode), ``gtin_conflict``
  (barcodes of two different products), ``sku_conflict`` (another product has the SKU),
  ``stock_below_reserved``: found while writing, not here;
- ``missing_name``, ``field_too_long``, ``bad_value``, ``bad_price``, ``bad_currency``,
  ``bad_campaign``, ``bad_stock``, ``unknown_store``, ``bad_image_url``, ``bad_stores``
  (``stores`` is not a list of store codes, or names stores for a row with none of the
  chain's own codes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from server.errors import InvalidGtin, InvalidInput
from server.gtin import Gtin, parse_gtin
from server.money import minor_unit_exponent

ONLINE_KEY = "online"

# Product columns a row may set, with their length limits (None: unlimited text).
_LIMITS: dict[str, int | None] = {
    "name": 300,
    "brand": 200,
    "description": None,
    "quantity": 100,
    "image_url": 1000,
}
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

CampaignKey = tuple[str, datetime | None, datetime | None]  # name, starts_at, ends_at


class RowRejected(Exception):
    """A row that cannot be imported, with a stable reason code and a readable message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Rejection:
    """One line of the rejected-rows report: where the row starts, why, and its text."""

    line: int
    reason: str
    message: str
    raw: str


@dataclass(frozen=True, slots=True)
class Offer:
    """A campaign price a row names: the campaign, by name and window, and the amount."""

    campaign: CampaignKey
    currency: str
    amount: int


@dataclass(slots=True)
class CheckedRow:
    """One accepted row, checked and normalised, waiting for its batch."""

    line: int
    raw: str
    gtins: list[Gtin]
    fields: dict[str, Any]  # product columns the file sets
    attributes: dict[str, Any]  # merged into Product.attributes; None removes a key
    price: tuple[str, int] | None  # (currency, amount)
    offer: Offer | None
    stock: dict[int, int]  # location id -> on hand
    # Store ids the row's restricted codes are limited to; () chain-wide; None: leave alone.
    stores: tuple[int, ...] | None = None

    def reject(self, reason: str, message: str) -> Rejection:
        """Return the report line rejecting this row after all (found while writing)."""
        return Rejection(self.line, reason, message, self.raw)


@dataclass(frozen=True, slots=True)
class Locations:
    """The stock locations a row may name: stores' locations by store code, and online.

    ``store_ids`` holds each store's id by code, for the stores a row's own codes are
    limited to.
    """

    by_store_code: dict[str, int]
    online: int | None
    store_ids: dict[str, int] = field(default_factory=dict)

    def store(self, code: str) -> int:
        """Return the id of the store a ``stores`` entry names, or reject the row."""
        found = self.store_ids.get(code) or self.store_ids.get(code.upper())
        if found is None:
            raise RowRejected("unknown_store", f"No store has the code {code!r}.")
        return found

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


def row_from_json(
    obj: dict[str, Any], line: int, raw: str, currency: str, locations: Locations
) -> CheckedRow:
    """Given one JSON Lines object (Open Food Facts names), return its checked row or reject it."""
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
    row = _finish(line, raw, gtins, fields, attributes, obj, currency, levels)
    if "stores" in obj:
        value = obj["stores"]
        if isinstance(value, str):
            value = value.split(",")
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise RowRejected("bad_stores", 'stores must be a list of store codes ["OSL-STORO"].')
        row.stores = _stores(value or [], gtins, locations)
    return row


def row_from_csv(
    columns: dict[str, int],
    cells: list[str],
    line: int,
    raw: str,
    currency: str,
    locations: Locations,
) -> CheckedRow:
    """Given one CSV record's cells and the header's column indexes, return its checked row."""
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
    row = _finish(line, raw, gtins, fields, attributes, values, currency, stock)
    if "stores" in values:
        row.stores = _stores(values["stores"].split("|"), gtins, locations)
    return row


def _stores(codes: list[str], gtins: list[Gtin], locations: Locations) -> tuple[int, ...]:
    """Return the store ids a row's own codes are limited to (empty: chain-wide)."""
    ids = tuple(dict.fromkeys(locations.store(c.strip()) for c in codes if c.strip()))
    if ids and not any(g.restricted for g in gtins):
        raise RowRejected(
            "bad_stores",
            "stores limits the chain's own codes (restricted circulation numbers, such as "
            "20…-29…) to some stores; this row has none, and a global GTIN is valid everywhere.",
        )
    return ids


def _finish(
    line: int,
    raw: str,
    gtins: list[Gtin],
    fields: dict[str, Any],
    attributes: dict[str, Any],
    source: Mapping[str, Any],
    default_currency: str,
    stock: dict[int, int],
) -> CheckedRow:
    """Check what both formats share (limits, image URL, quantity, prices) and build the row."""
    for key, limit in _LIMITS.items():
        value = fields.get(key)
        if limit is not None and value is not None and len(value) > limit:
            raise RowRejected("field_too_long", f"{key} is longer than {limit} characters.")
    image = fields.get("image_url")
    if image is not None and not image.lower().startswith(("http://", "https://")):
        raise RowRejected("bad_image_url", "image_url must be an http:// or https:// address.")
    if "quantity" in fields:
        fields["net_amount"], fields["unit"] = _measure(fields["quantity"])
    row_currency = currency_code(source.get("currency"), default=default_currency)
    price_text = source.get("price")
    price = None
    if price_text not in (None, ""):
        price = (row_currency, _minor_units(price_text, row_currency, "price"))
    return CheckedRow(
        line, raw, gtins, fields, attributes, price, _offer(source, row_currency), stock
    )


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


def currency_code(value: Any, *, default: str | None) -> str:
    """Return ``value`` (or ``default`` when empty) as an upper-case ISO 4217 code.

    Without a ``default`` a bad code is the caller's mistake (``InvalidInput``); with one it
    is the row's (``RowRejected`` with ``bad_currency``).
    """
    text = (str(value).strip() if value is not None else "") or default or ""
    if len(text) != 3 or not text.isascii() or not text.isalpha():
        if default is None:
            raise InvalidInput("currency must be an ISO 4217 code such as NOK", field="currency")
        raise RowRejected("bad_currency", f"{text!r} is not an ISO 4217 currency code.")
    return text.upper()


def _minor_units(value: Any, currency: str, key: str) -> int:
    reason = "bad_campaign" if key.startswith("campaign") else "bad_price"
    text = str(value).strip()
    try:
        if isinstance(value, bool) or text.count(",") + text.count(".") > 1:
            raise InvalidOperation
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


def _offer(source: Mapping[str, Any], currency: str) -> Offer | None:
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
    return Offer((name, starts, ends), currency, _minor_units(price, currency, "campaign_price"))


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
