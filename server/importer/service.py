"""The import itself: read a file row by row, write accepted rows in batches, report the rest."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database
from server.errors import InvalidInput
from server.importer.reading import ByteLines, printable, reader_for
from server.importer.rows import CheckedRow, Locations, Rejection, RowRejected, currency_code
from server.importer.writing import Tally, write_batch_with_retry
from server.models import StockLocation, Store

ProgressCallback = Callable[[int, int], None]

REPORT_COLUMNS = ("line", "reason", "message", "raw")


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
    receives every rejected row (see ``server.importer``); without it rejected rows are
    only counted. ``on_progress(bytes_done, bytes_total)`` is called after every batch, in
    bytes of the file read so far (exact for every format, and the file size is known
    up front). Raises ``InvalidInput`` for a file that cannot be read at all (unknown
    extension, CSV without ``gtin``/``name`` columns, a JSON array).
    """
    default_currency = currency_code(currency, default=None)
    if batch_size < 1:
        raise InvalidInput("batch_size must be at least 1", field="batch_size")
    read_records = reader_for(path)
    async with db.transaction(write=False) as session:
        locations = await load_locations(session)

    rows = 0
    tally = Tally()
    reasons: Counter[str] = Counter()
    seen: dict[str, int] = {}  # canonical GTIN -> line that brought it (first one wins)
    batch: list[CheckedRow] = []
    pending: list[Rejection] = []

    report_file = report_path.open("w", newline="", encoding="utf-8") if report_path else None
    report = csv.writer(report_file) if report_file else None
    if report:
        report.writerow(REPORT_COLUMNS)

    async def flush() -> None:
        nonlocal pending, batch
        rejected = await write_batch_with_retry(db, batch, tally) if batch else []
        for rejection in sorted(pending + rejected, key=lambda r: r.line):
            reasons[rejection.reason] += 1
            if report:
                report.writerow(
                    (rejection.line, rejection.reason, rejection.message, printable(rejection.raw))
                )
        batch, pending = [], []
        if on_progress:
            on_progress(min(source.consumed, total_bytes), total_bytes)

    try:
        with path.open("rb") as stream:
            total_bytes = os.fstat(stream.fileno()).st_size
            source = ByteLines(stream)
            for line, raw, outcome in read_records(source, default_currency, locations):
                rows += 1
                if isinstance(outcome, RowRejected):
                    pending.append(Rejection(line, outcome.reason, outcome.message, raw))
                    if len(pending) >= batch_size:
                        await flush()
                    continue
                duplicate = next((seen[g.digits] for g in outcome.gtins if g.digits in seen), None)
                if duplicate is not None:
                    message = f"A row on line {duplicate} already has this barcode."
                    pending.append(Rejection(line, "duplicate_gtin", message, raw))
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


async def load_locations(session: AsyncSession) -> Locations:
    """Return the stock locations rows may name: each store's, and the first online one."""
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
    return Locations(by_code, online)
