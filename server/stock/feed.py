"""The bulk feed: stock movements as NDJSON (one JSON object a line), applied in batches.

For systems that cannot speak GraphQL: ``POST /stock/movements`` with the device's bearer
token, and ``omnicart stock import FILE`` on the command line. Each line carries the fields
of ``StockMovementInput``: ``movementId``, ``gtin``, ``storeId`` (the Store's GraphQL id, or
its code; absent or null: the online warehouse), ``kind``, ``quantity``, ``occurredAt`` (ISO
8601 with a zone), ``transferId``, ``receiptNumber``, ``customerPhone``. Lines are read as
they arrive and applied 1,000 at a time, each batch in a transaction of its own (in
``occurredAt`` order within it); a bad line is rejected with its line number and reason and
the rest still apply. A feed cut off half-way can be sent again whole: the movement ids
make every line apply once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.db import Database
from server.errors import AppError, InvalidInput
from server.models import Store, utcnow
from server.stock.inputs import MAX_MOVEMENTS, MovementInput, Recorder
from server.stock.movements import record_movements

# A line longer than this is not a movement.
MAX_LINE_BYTES = 16 * 1024
# Most rejected (and short) lines named in a report; all are counted.
MAX_LISTED = 1000
_FIELDS = {
    "movementId", "gtin", "storeId", "kind", "quantity", "occurredAt", "transferId",
    "receiptNumber", "customerPhone",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line of the feed that was not applied, and why."""

    line: int
    movement_id: str | None
    code: str
    field: str | None
    message: str


@dataclass
class FeedReport:
    """What a feed did: lines read, movements applied and replayed, what was refused or short."""

    lines: int = 0
    applied: int = 0
    replayed: int = 0
    rejected: int = 0
    short: int = 0
    rejected_lines: list[RejectedLine] = field(default_factory=list)
    short_lines: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the report as the route answers it."""
        return {
            "lines": self.lines, "applied": self.applied, "replayed": self.replayed,
            "rejected": self.rejected, "shortfalls": self.short,
            "rejectedLines": [
                {"line": r.line, "movementId": r.movement_id, "code": r.code, "field": r.field,
                 "message": r.message}
                for r in self.rejected_lines
            ],
            "shortfallLines": self.short_lines,
        }  # fmt: skip

    def reject(self, line: int, movement_id: str | None, error: AppError) -> None:
        """Count a refused line (and name it while the list has room)."""
        self.rejected += 1
        if len(self.rejected_lines) < MAX_LISTED:
            self.rejected_lines.append(
                RejectedLine(line, movement_id, str(error.code), error.field, error.message)
            )


Announce = Callable[[set[int]], Awaitable[None]]


def store_key(text: str, stores: Mapping[str, int]) -> int:
    """Return the store a line names: by its code, or by the Store id GraphQL hands out.

    The id is ``base64("Store:<pk>")`` (the Relay global id of ``schema.ids``); ``stores``
    maps every store code to its key. Anything else raises InvalidInput on ``storeId``.
    """
    if text in stores:
        return stores[text]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (ValueError, UnicodeError, binascii.Error):
        raw = ""
    kind, _, pk = raw.partition(":")
    if kind == "Store" and pk.isascii() and pk.isdecimal() and int(pk) in stores.values():
        return int(pk)
    raise InvalidInput(f"No store has the id or code {text[:40]!r}.", field="storeId")


async def store_keys(db: Database) -> dict[str, int]:
    """Return every store's key by its code."""
    async with db.transaction(write=False) as session:
        return {code: pk for pk, code in await session.execute(select(Store.id, Store.code))}


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Split a byte stream into lines (without their line ends) as the bytes arrive."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line
        if len(pending) > MAX_LINE_BYTES:
            yield pending  # reported as too long; the rest of it is a line of its own
            pending = b""
    if pending:
        yield pending


def parse_line(raw: bytes, stores: Mapping[str, int]) -> MovementInput:
    """Read one NDJSON line as a movement, or raise InvalidInput naming the field."""
    if len(raw) > MAX_LINE_BYTES:
        raise InvalidInput(f"A line has at most {MAX_LINE_BYTES} bytes.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("This line is not JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidInput("A line is one JSON object.")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {unknown[0]!r}.", field=unknown[0][:40])
    store = _text(data, "storeId", optional=True)
    return MovementInput(
        movement_id=_text(data, "movementId"),
        gtin=_text(data, "gtin"),
        store_id=store_key(store, stores) if store else None,
        kind=_text(data, "kind"),
        quantity=_integer(data, "quantity"),
        occurred_at=_moment(data, "occurredAt"),
        transfer_id=_text(data, "transferId", optional=True) or None,
        receipt_number=_text(data, "receiptNumber", optional=True) or None,
        customer_phone=_text(data, "customerPhone", optional=True) or None,
    )


def _text(data: dict[str, Any], name: str, *, optional: bool = False) -> str:
    value = data.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string.", field=name)
    return value


def _integer(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number.", field=name)
    return value


def _moment(data: dict[str, Any], name: str) -> datetime:
    text = _text(data, name)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an ISO 8601 time.", field=name) from exc


async def run_feed(
    db: Database,
    recorder: Recorder,
    lines: AsyncIterator[bytes],
    announce: Announce,
    on_batch: Callable[[FeedReport], None] | None = None,
) -> FeedReport:
    """Apply a feed's lines in batches of 1,000 (one transaction each); return the report.

    ``announce`` is called with each batch's changed products once it has committed.
    """
    report = FeedReport()
    stores = await store_keys(db)
    batch: list[tuple[int, MovementInput]] = []
    async for raw in lines:
        report.lines += 1
        if not raw.strip():
            continue
        try:
            batch.append((report.lines, parse_line(raw, stores)))
        except AppError as error:
            report.reject(report.lines, _movement_id_of(raw), error)
        if len(batch) == MAX_MOVEMENTS:
            await _apply_batch(db, recorder, batch, report, announce)
            batch = []
            if on_batch is not None:
                on_batch(report)
    if batch:
        await _apply_batch(db, recorder, batch, report, announce)
    if on_batch is not None:
        on_batch(report)
    return report


async def _apply_batch(
    db: Database,
    recorder: Recorder,
    batch: list[tuple[int, MovementInput]],
    report: FeedReport,
    announce: Announce,
) -> None:
    movements = [m for _, m in batch]
    async with db.transaction() as session:
        result = await record_movements(
            session, recorder, movements, utcnow(), all_or_nothing=False
        )
    await announce(result.changed_products)
    report.applied += result.applied
    report.replayed += result.replayed
    for rejected in result.rejected:
        report.reject(batch[rejected.index][0], rejected.movement_id, rejected.error)
    for short in result.shortfalls:
        report.short += 1
        if len(report.short_lines) < MAX_LISTED:
            report.short_lines.append(
                {"line": batch[short.index][0], "movementId": short.movement_id,
                 "requested": short.requested, "applied": short.applied,
                 "unknownUnits": short.unknown_units, "reservedUnits": short.reserved_units}
            )  # fmt: skip


def _movement_id_of(raw: bytes) -> str | None:
    try:
        value = json.loads(raw).get("movementId")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return value[:100] if isinstance(value, str) else None
