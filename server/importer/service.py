"""The import itself: read a file row by row, write accepted rows in batches, report the rest."""

from __future__ import annotations

import contextlib
import csv
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    with contextlib.ExitStack() as files:
        report = None
        if report_path:
            report = csv.writer(
                files.enter_context(report_path.open("w", newline="", encoding="utf-8"))
            )
            report.writerow(REPORT_COLUMNS)
        stream = files.enter_context(path.open("rb"))
        run = _Run(
            db,
            batch_size,
            report,
            on_progress,
            ByteLines(stream),
            os.fstat(stream.fileno()).st_size,
        )
        for line, raw, outcome in read_records(run.source, default_currency, locations):
            await run.take(line, raw, outcome)
        await run.flush()
    return ImportReport(
        rows=run.rows,
        created=run.tally.created,
        updated=run.tally.updated,
        unchanged=run.tally.unchanged,
        rejected=sum(run.reasons.values()),
        report_path=report_path,
        rejected_by_reason=dict(run.reasons),
    )


@dataclass
class _Run:
    """One import in progress: the batch being filled, the rejections waiting, the counts."""

    db: Database
    batch_size: int
    report: Any | None  # a csv writer of the rejected rows
    on_progress: ProgressCallback | None
    source: ByteLines
    total_bytes: int
    rows: int = 0
    tally: Tally = field(default_factory=Tally)
    reasons: Counter[str] = field(default_factory=Counter)
    seen: dict[str, int] = field(default_factory=dict)  # canonical GTIN -> line (first wins)
    batch: list[CheckedRow] = field(default_factory=list)
    pending: list[Rejection] = field(default_factory=list)

    async def take(self, line: int, raw: str, outcome: CheckedRow | RowRejected) -> None:
        """Count one read row into the batch, or among the rejections; write a full batch."""
        self.rows += 1
        if isinstance(outcome, RowRejected):
            self.pending.append(Rejection(line, outcome.reason, outcome.message, raw))
            if len(self.pending) >= self.batch_size:
                await self.flush()
            return
        duplicate = next(
            (self.seen[g.digits] for g in outcome.gtins if g.digits in self.seen), None
        )
        if duplicate is not None:
            message = f"A row on line {duplicate} already has this barcode."
            self.pending.append(Rejection(line, "duplicate_gtin", message, raw))
            return
        self.seen.update((g.digits, line) for g in outcome.gtins)
        self.batch.append(outcome)
        if len(self.batch) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        """Write the batch, report its rejections in line order, and tell the progress."""
        rejected = (
            await write_batch_with_retry(self.db, self.batch, self.tally) if self.batch else []
        )
        for rejection in sorted(self.pending + rejected, key=lambda r: r.line):
            self.reasons[rejection.reason] += 1
            if self.report:
                self.report.writerow(
                    (rejection.line, rejection.reason, rejection.message, printable(rejection.raw))
                )
        self.batch, self.pending = [], []
        if self.on_progress:
            self.on_progress(min(self.source.consumed, self.total_bytes), self.total_bytes)


async def load_locations(session: AsyncSession) -> Locations:
    """Return the stock locations rows may name: each store's, and the first online one."""
    rows = await session.execute(
        select(Store.code, StockLocation.id).join(StockLocation, StockLocation.store_id == Store.id)
    )
    by_code: dict[str, int] = {}
    for code, location_id in rows:
        by_code[code] = location_id
        by_code.setdefault(code.upper(), location_id)
    store_ids: dict[str, int] = {}
    for code, store_id in await session.execute(select(Store.code, Store.id)):
        store_ids[code] = store_id
        store_ids.setdefault(code.upper(), store_id)
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
    return Locations(by_code, online, store_ids)
