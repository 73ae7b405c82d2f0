"""Scan analytics: recording what shoppers scan where, and the reports built on it.

Every ``scan`` records a ``ScanEvent``: the code, the product (if known), the store, the
kind of device, whether the product was available in that store at that moment, and —
when the request says who scans — the customer and the cart (see ``scanner_of``).
The reports (``reports``) read those events per store and period.
"""

from __future__ import annotations

from server.analytics.reports import (
    CodeScans,
    ProductScans,
    ScanReport,
    scan_report,
    scan_report_for_staff,
)
from server.analytics.scans import (
    DEVICE_KINDS,
    MAX_SCAN_REFS,
    Scanner,
    ScanOutcome,
    link_scans_to_cart,
    record_scan,
    scan_ref,
    scanner_of,
)

__all__ = [
    "DEVICE_KINDS",
    "MAX_SCAN_REFS",
    "CodeScans",
    "ProductScans",
    "ScanOutcome",
    "ScanReport",
    "Scanner",
    "link_scans_to_cart",
    "record_scan",
    "scan_report",
    "scan_ref",
    "scan_report_for_staff",
    "scanner_of",
]
