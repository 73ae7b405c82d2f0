"""Scan reports for staff: what is scanned in a store, what it led to, what the shelf lacked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.catalog import Product, Store
from schema.context import context_of
from schema.ids import decode_id
from server import analytics
from server.errors import InvalidInput
from server.models import utcnow

MAX_ROWS = 100


@strawberry.type(description="One product's scans in a store and period.")
class ProductScanStats:
    name: str = strawberry.field(description="The product's name.")
    gtin: str = strawberry.field(description="Its primary barcode, as printed.")
    scans: int = strawberry.field(description="Times it was scanned.")
    led_to_cart: int = strawberry.field(
        description="Scans followed by a cart line of it for the same cart or customer in time."
    )
    out_of_stock_scans: int = strawberry.field(
        description="Scans while it was not available in the store (missed demand)."
    )
    last_scanned_at: datetime = strawberry.field(description="The latest scan in the period.")
    asked_to_be_told: int = strawberry.field(
        description="Back-in-stock requests for it in the store in the period (missed demand)."
    )
    product_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: analytics.ProductScans) -> ProductScanStats:
        """Build the GraphQL row from the report's row."""
        return cls(
            name=row.name,
            gtin=row.gtin,
            scans=row.scans,
            led_to_cart=row.led_to_cart,
            out_of_stock_scans=row.out_of_stock_scans,
            last_scanned_at=row.last_scanned_at,
            asked_to_be_told=row.asked_to_be_told,
            product_id=row.product_id,
        )

    @strawberry.field(description="The product's page as it is now.")
    async def product(self, info: Info) -> Product | None:
        row = await context_of(info).loaders.product.load(self.product_id)
        return await Product.load(info, row) if row else None


@strawberry.type(description="Shoppers who asked to be told when a product is back in the store.")
class AskedToBeToldStats:
    name: str = strawberry.field(description="The product's name.")
    gtin: str = strawberry.field(description="Its primary barcode, as printed.")
    requests: int = strawberry.field(description="Back-in-stock requests made in the period.")
    product_id: strawberry.Private[int]

    @strawberry.field(description="The product's page as it is now.")
    async def product(self, info: Info) -> Product | None:
        row = await context_of(info).loaders.product.load(self.product_id)
        return await Product.load(info, row) if row else None


@strawberry.type(description="Scans of a well-formed barcode no product has.")
class CodeScanStats:
    code: str = strawberry.field(description="The barcode as printed.")
    scans: int = strawberry.field(description="Times it was scanned.")
    last_scanned_at: datetime = strawberry.field(description="The latest scan in the period.")


@strawberry.type(
    description=(
        "What shoppers scanned in a store in a period. A scan led to a cart line when the same "
        "product got a line in the scanner's cart (or any cart of the scanning customer) within "
        "windowMinutes after it; an out-of-stock scan is one of a product not available in "
        "the store at that moment."
    )
)
class ScanReport:
    since: datetime = strawberry.field(description="Start of the period (included).")
    until: datetime = strawberry.field(description="End of the period (excluded).")
    window_minutes: int = strawberry.field(description="How soon a cart line must follow a scan.")
    total_scans: int = strawberry.field(description="Every scan, unknown codes included.")
    unknown_scans: int = strawberry.field(description="Scans of codes no product has.")
    led_to_cart: int = strawberry.field(description="Scans that led to a cart line.")
    out_of_stock_scans: int = strawberry.field(description="Scans of products out of stock here.")
    conversion_rate: float = strawberry.field(
        description="ledToCart over scans of known products (0 to 1)."
    )
    report: strawberry.Private[analytics.ScanReport]

    @strawberry.field(description="The store.")
    async def store(self, info: Info) -> Store:
        row = await context_of(info).loaders.store.load(self.report.store_id)
        assert row is not None, "a reported store exists"
        return Store.from_model(row)

    @strawberry.field(description="The most scanned products, most first.")
    def top_products(
        self, first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 20
    ) -> list[ProductScanStats]:
        return [ProductScanStats.from_model(p) for p in self.report.products[: _rows(first)]]

    @strawberry.field(description="Products scanned while out of stock here, most missed first.")
    def missed_demand(
        self, first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 20
    ) -> list[ProductScanStats]:
        return [ProductScanStats.from_model(p) for p in self.report.missed_demand[: _rows(first)]]

    @strawberry.field(
        description=(
            "Missed demand, asked to be told: products shoppers asked to hear about when back "
            "in this store, with how many asked, most first."
        )
    )
    def asked_to_be_told(
        self, first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 20
    ) -> list[AskedToBeToldStats]:
        return [
            AskedToBeToldStats(
                name=a.name, gtin=a.gtin, requests=a.requests, product_id=a.product_id
            )
            for a in self.report.asked[: _rows(first)]
        ]

    @strawberry.field(description="Codes shoppers scanned that no product has, most first.")
    def unknown_codes(
        self, first: Annotated[int, strawberry.argument(description="How many (0 to 100).")] = 20
    ) -> list[CodeScanStats]:
        return [
            CodeScanStats(code=c.code, scans=c.scans, last_scanned_at=c.last_scanned_at)
            for c in self.report.unknown_codes[: _rows(first)]
        ]


def _rows(first: int) -> int:
    if not 0 <= first <= MAX_ROWS:
        raise InvalidInput(f"Ask for 0 to {MAX_ROWS} rows.", field="first")
    return first


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description=(
            "Staff of the store (admins: any store): the scan report for a period, at most a "
            "year long."
        )
    )
    async def scan_report(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, strawberry.argument(description="The store.")],
        since: Annotated[datetime, strawberry.argument(description="Start (included).")],
        until: Annotated[
            datetime | None, strawberry.argument(description="End (excluded); default now.")
        ] = None,
    ) -> ScanReport:
        ctx = context_of(info)
        viewer = await ctx.viewer()
        session = await ctx.session()
        report = await analytics.scan_report_for_staff(
            session,
            viewer,
            decode_id(store_id, "Store", field="storeId"),
            since=since,
            until=until or utcnow(),
            window_minutes=ctx.settings.scan_conversion_minutes,
        )
        return ScanReport(
            since=report.since,
            until=report.until,
            window_minutes=report.window_minutes,
            total_scans=report.total_scans,
            unknown_scans=report.unknown_scans,
            led_to_cart=report.led_to_cart,
            out_of_stock_scans=report.out_of_stock_scans,
            conversion_rate=report.conversion_rate,
            report=report,
        )
