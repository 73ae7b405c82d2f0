"""Scan reports per store and period: most scanned products, scans that led to a cart line,
and missed demand.

Definitions, for one store and the period ``[since, until)``:

* **Scans** are the scan events recorded in that store in the period: known products and
  well-formed codes no product has (``unknown codes``: what shoppers look for).
* **Most scanned** products: by number of scans, ties by product id.
* **Led to a cart line**: a scan of product P counts when P got a line in a cart of the
  scanner at or after the scan and at most ``scan_conversion_minutes`` (30) later — in the
  cart the scan recorded, or in any cart of the scanning customer. A line counts from when
  it was created (raising the quantity of a line already there is not a new line); lines
  that left the cart at checkout still count, through their order line, which keeps when
  the cart line was created. A scan by nobody known (no cart, no customer) cannot count,
  unless the cart created next claims it (``cartCreate(input.scanRefs)``: a new guest's
  first scans, see ``server.analytics.scans.link_scans_to_cart``). Looking up the scan
  screen's example code records nothing, so it counts nowhere.
* **Missed demand**: scans of a known product that was not available in that store at
  the moment of the scan (``available_here`` false): someone wanted it and the shelf was
  empty; and **asked to be told**: back-in-stock requests made for the product at that
  store in the period (``server.notifications.back_in_stock``), a number per product,
  whether or not it was scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Interval, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import InvalidInput, NotFound, PermissionDenied
from server.gtin import Gtin
from server.models import Cart, CartLine, Order, OrderLine, ScanEvent
from server.notifications.back_in_stock import asked_counts
from server.staff import require_staff
from server.viewer import Viewer

MAX_PERIOD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class ProductScans:
    """One product's scans in the report's store and period."""

    product_id: int
    name: str
    gtin: str
    scans: int
    led_to_cart: int
    out_of_stock_scans: int
    last_scanned_at: datetime
    # Back-in-stock requests for it at the store in the period.
    asked_to_be_told: int = 0


@dataclass(frozen=True, slots=True)
class AskedToBeTold:
    """Back-in-stock requests for one product at the report's store in its period."""

    product_id: int
    name: str
    gtin: str
    requests: int


@dataclass(frozen=True, slots=True)
class CodeScans:
    """Scans of a well-formed code that no product has."""

    code: str
    scans: int
    last_scanned_at: datetime


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What was scanned in one store in one period, and what came of it."""

    store_id: int
    store_code: str
    store_name: str
    since: datetime
    until: datetime
    window_minutes: int
    total_scans: int
    unknown_scans: int
    led_to_cart: int
    out_of_stock_scans: int
    # Every scanned product, most scanned first.
    products: tuple[ProductScans, ...]
    unknown_codes: tuple[CodeScans, ...]
    # Every product asked to be told about here in the period, most asked first.
    asked: tuple[AskedToBeTold, ...] = ()

    @property
    def asked_to_be_told(self) -> int:
        """Return the back-in-stock requests made at the store in the period."""
        return sum(a.requests for a in self.asked)

    @property
    def missed_demand(self) -> tuple[ProductScans, ...]:
        """Return the products scanned while out of stock here, most missed first."""
        missed = [p for p in self.products if p.out_of_stock_scans > 0]
        return tuple(sorted(missed, key=lambda p: (-p.out_of_stock_scans, p.product_id)))

    @property
    def conversion_rate(self) -> float:
        """Return the share of known-product scans that led to a cart line (0 when none)."""
        known = self.total_scans - self.unknown_scans
        return self.led_to_cart / known if known else 0.0


async def scan_report_for_staff(
    session: AsyncSession,
    viewer: Viewer,
    store_id: int,
    *,
    since: datetime,
    until: datetime,
    window_minutes: int,
) -> ScanReport:
    """Return a store's report to its staff (admins: any store's)."""
    actor = require_staff(viewer)
    if not actor.works_at(store_id):
        raise PermissionDenied("Staff see their own store's scan report.")
    return await scan_report(
        session, store_id, since=since, until=until, window_minutes=window_minutes
    )


async def scan_report(
    session: AsyncSession,
    store_id: int,
    *,
    since: datetime,
    until: datetime,
    window_minutes: int,
) -> ScanReport:
    """Return the scan report of a store for ``[since, until)`` (definitions above).

    Times without a zone are taken as UTC.
    """
    since, until = _checked_period(since, until)
    store = (await catalog.stores_by_ids(session, [store_id])).get(store_id)
    if store is None:
        raise NotFound("There is no such store.", field="storeId")
    in_period = and_(
        ScanEvent.store_id == store_id, ScanEvent.scanned_at >= since, ScanEvent.scanned_at < until
    )
    dialect = session.get_bind().dialect.name
    per_product = await _product_scans(session, in_period, _led_to_cart(dialect, window_minutes))
    unknown_codes = await _unknown_codes(session, in_period)
    unknown_scans = sum(c.scans for c in unknown_codes)
    counts = await asked_counts(session, store_id, since, until)
    per_product = tuple(
        replace(p, asked_to_be_told=counts.get(p.product_id, 0)) for p in per_product
    )
    return ScanReport(
        store_id=store.id,
        store_code=store.code,
        store_name=store.name,
        since=since,
        until=until,
        window_minutes=window_minutes,
        total_scans=sum(p.scans for p in per_product) + unknown_scans,
        unknown_scans=unknown_scans,
        led_to_cart=sum(p.led_to_cart for p in per_product),
        out_of_stock_scans=sum(p.out_of_stock_scans for p in per_product),
        products=per_product,
        unknown_codes=unknown_codes,
        asked=await _asked(session, counts),
    )


async def _asked(session: AsyncSession, counts: dict[int, int]) -> tuple[AskedToBeTold, ...]:
    """Name the products asked about, most asked first (ties by product id)."""
    ids = sorted(counts)
    products = await catalog.products_by_ids(session, ids)
    barcodes = await catalog.barcodes_by_product(session, ids)
    asked = (
        AskedToBeTold(
            product_id=pid,
            name=products[pid].name if pid in products else f"product {pid}",
            gtin=str(Gtin(barcodes[pid][0])) if barcodes.get(pid) else "",
            requests=counts[pid],
        )
        for pid in ids
    )
    return tuple(sorted(asked, key=lambda a: (-a.requests, a.product_id)))


def _checked_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """Return the period in UTC-aware times, or raise InvalidInput for an empty or long one."""
    since, until = _aware(since), _aware(until)
    if until <= since:
        raise InvalidInput("The period ends after it starts.", field="until")
    if until - since > MAX_PERIOD:
        raise InvalidInput("A report covers at most a year.", field="since")
    return since, until


async def _product_scans(
    session: AsyncSession, in_period: ColumnElement[bool], converted: ColumnElement[bool]
) -> tuple[ProductScans, ...]:
    """Return every scanned product's figures in the period, most scanned first."""
    rows = (
        await session.execute(
            select(
                ScanEvent.product_id,
                func.count(),
                func.sum(case((converted, 1), else_=0)),
                func.sum(case((ScanEvent.available_here.is_(False), 1), else_=0)),
                func.max(ScanEvent.scanned_at),
            )
            .where(in_period, ScanEvent.product_id.is_not(None))
            .group_by(ScanEvent.product_id)
        )
    ).all()
    ids = [row[0] for row in rows]
    products = await catalog.products_by_ids(session, ids)
    barcodes = await catalog.barcodes_by_product(session, ids)
    per_product = (
        ProductScans(
            product_id=pid,
            name=products[pid].name if pid in products else f"product {pid}",
            gtin=str(Gtin(barcodes[pid][0])) if barcodes.get(pid) else "",
            scans=int(scans),
            led_to_cart=int(led or 0),
            out_of_stock_scans=int(missed or 0),
            last_scanned_at=last,
        )
        for pid, scans, led, missed, last in rows
    )
    return tuple(sorted(per_product, key=lambda p: (-p.scans, p.product_id)))


async def _unknown_codes(
    session: AsyncSession, in_period: ColumnElement[bool]
) -> tuple[CodeScans, ...]:
    """Return the scanned codes no product has, most scanned first."""
    code = func.coalesce(ScanEvent.gtin, ScanEvent.code)
    unknown = (
        await session.execute(
            select(code, func.count(), func.max(ScanEvent.scanned_at))
            .where(in_period, ScanEvent.product_id.is_(None))
            .group_by(code)
            .order_by(func.count().desc(), code)
        )
    ).all()
    return tuple(CodeScans(_printed(value), int(scans), last) for value, scans, last in unknown)


def _within(dialect: str, added: Any, minutes: int) -> ColumnElement[bool]:
    """Return "``added`` is at or after the scan and at most ``minutes`` later" for a dialect."""
    if dialect == "postgresql":
        latest = ScanEvent.scanned_at + literal(timedelta(minutes=minutes), Interval())
        return and_(added >= ScanEvent.scanned_at, added <= latest)
    # SQLite keeps timestamps as ISO text in UTC: compare as text, measure with julianday.
    gap = (func.julianday(added) - func.julianday(ScanEvent.scanned_at)) * 1440.0
    return and_(added >= ScanEvent.scanned_at, gap <= minutes)


def _of_scanner(cart_id: Any, customer_id: Any) -> ColumnElement[bool]:
    """Return "the row is the scanner's": of the scanned cart, or of the scanning customer."""
    return or_(
        cart_id == ScanEvent.cart_id,
        and_(ScanEvent.customer_id.is_not(None), customer_id == ScanEvent.customer_id),
    )


def _led_to_cart(dialect: str, minutes: int) -> ColumnElement[bool]:
    """Return the condition "this scan led to a cart line", correlated to ``ScanEvent``."""
    in_cart = exists(
        select(CartLine.id)
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(
            CartLine.product_id == ScanEvent.product_id,
            _of_scanner(Cart.id, Cart.customer_id),
            _within(dialect, CartLine.created_at, minutes),
        )
    )
    ordered = exists(
        select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.product_id == ScanEvent.product_id,
            OrderLine.added_to_cart_at.is_not(None),
            _of_scanner(Order.cart_id, Order.customer_id),
            _within(dialect, OrderLine.added_to_cart_at, minutes),
        )
    )
    return or_(in_cart, ordered)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _printed(value: str) -> str:
    """Show a canonical GTIN as printed (EAN-13 …); leave other codes as scanned."""
    if len(value) == 14 and value.isdigit():
        return str(Gtin(value))
    return value
