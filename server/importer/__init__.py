"""Catalog import: stream a JSON Lines or CSV file of products into the database, by barcode.

``import_catalog`` reads the file one row at a time (it never holds the whole file), checks
each row, and writes the accepted rows in batches of ``batch_size``: one transaction and a
fixed handful of set-based queries per batch (look up every barcode of the batch at once,
bulk INSERT what is new, executemany UPDATE what changed).

The package, in the order a row goes through it:

- ``reading``: the file formats and the CSV layout; streams rows as records;
- ``rows``: checks one row and normalises it into a ``CheckedRow``, or rejects it; lists
  the reason codes;
- ``writing``: writes one batch with set-based upserts and the outbox;
- ``service``: ``import_catalog`` ties them together and writes the report.

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
``line,reason,message,raw``: 1-based physical line where the row starts, a reason code
from ``server.importer.rows``, a readable message, the row's original text), sorted by
line within each batch.
"""

from __future__ import annotations

from server.importer.reading import CSV_SUFFIXES, JSON_SUFFIXES
from server.importer.rows import ONLINE_KEY, RowRejected, category_label
from server.importer.service import REPORT_COLUMNS, ImportReport, ProgressCallback, import_catalog

__all__ = [
    "CSV_SUFFIXES",
    "JSON_SUFFIXES",
    "ONLINE_KEY",
    "REPORT_COLUMNS",
    "ImportReport",
    "ProgressCallback",
    "RowRejected",
    "category_label",
    "import_catalog",
]
