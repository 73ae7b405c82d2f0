"""Catalog types and fields: products, prices, stores, availability, and the scan mutation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry.types import Info

from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id, encode_id
from schema.mutations import Call, run_mutation
from server import analytics, catalog, pricing, searching
from server.catalog import StockFigure, stock_status
from server.errors import AppError, InvalidInput
from server.gtin import Gtin, RestrictedCode, parse_gtin
from server.models import Product as ProductRow
from server.models import Store as StoreRow
from server.models import utcnow
from server.money import format_money
from server.notifications.complements import complements_at
from server.pack_size import parse_pack, price_per_unit
from server.product_pages import PageRead, StoreView
from server.states import StockStatus

MAX_BATCH_GTINS = 100


@strawberry.interface(description="An object with a global id, fetchable with `node(id)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="The global id.")


@strawberry.type(description="An amount of money in integer minor units.")
class Money:
    amount: int = strawberry.field(description="Minor units (øre, cents).")
    currency: str = strawberry.field(description="ISO 4217 currency code.")

    @strawberry.field(description="The amount as shoppers read it, e.g. `49,90 kr`.")
    def formatted(self) -> str:
        return format_money(self.amount, self.currency)


@strawberry.type(description="A campaign that lowers prices for a time window.")
class Campaign:
    name: str = strawberry.field(description="The campaign's name as shown to shoppers.")
    starts_at: datetime | None = strawberry.field(
        description="When it starts; null: already running."
    )
    ends_at: datetime | None = strawberry.field(description="When it ends; null: open-ended.")
    members_only: bool = strawberry.field(
        default=False, description="True for a campaign only club members get."
    )


@strawberry.type(
    description="A product's price: regular, in force now, and the campaign behind it."
)
class Price:
    regular: Money = strawberry.field(description="The regular price.")
    current: Money = strawberry.field(description="The price in force now, in every channel alike.")
    campaign: Campaign | None = strawberry.field(description="The campaign lowering it, if any.")
    member: Money | None = strawberry.field(
        default=None,
        description=(
            "The club member price, when a members' campaign makes it lower than the public "
            "price: what a signed-in member pays (then equal to current), a nudge to others."
        ),
    )

    @classmethod
    def from_info(cls, info: pricing.PriceInfo) -> Price:
        """Build the GraphQL price from the catalog's price figures."""
        campaign = (
            Campaign(
                name=info.campaign.name,
                starts_at=info.campaign.starts_at,
                ends_at=info.campaign.ends_at,
                members_only=info.campaign.members_only,
            )
            if info.campaign
            else None
        )
        return cls(
            regular=Money(amount=info.regular, currency=info.currency),
            current=Money(amount=info.current, currency=info.currency),
            campaign=campaign,
            member=Money(amount=info.member, currency=info.currency)
            if info.member is not None
            else None,
        )


@strawberry.enum(description="What a comparison price is per.")
class PackUnit(Enum):
    KILOGRAM = "kg"
    LITRE = "l"
    PIECE = "piece"


@strawberry.type(
    description=(
        "The current price per kilogram, litre or piece (kr/kg, kr/l, kr/stk), from the "
        "product's printed quantity."
    )
)
class UnitPrice:
    price: Money = strawberry.field(description="What one unit costs at the current price.")
    unit: PackUnit = strawberry.field(description="The unit it is per.")

    @classmethod
    def of(cls, current: Money, quantity: str | None) -> UnitPrice | None:
        """The comparison price of ``current`` for the printed ``quantity``, if certain."""
        pack = parse_pack(quantity)
        if pack is None:
            return None
        amount = price_per_unit(current.amount, pack)
        return cls(price=Money(amount=amount, currency=current.currency), unit=PackUnit(pack.unit))


# The GraphQL enums are the server's own state enums (server.states): one spelling of each.
strawberry.enum(
    StockStatus, name="StockStatus", description="How much is left, as shown to shoppers."
)


@strawberry.type(description="A store of the chain.")
class Store(Node):
    code: str = strawberry.field(description="Short code staff and devices use.")
    name: str = strawberry.field(description="The store's name.")
    address: str | None = strawberry.field(description="Street address.")
    city: str | None = strawberry.field(description="City.")

    @classmethod
    def from_model(cls, row: StoreRow | StoreView) -> Store:
        """Build the GraphQL store from its row or the product page's view of it."""
        return cls(
            id=strawberry.ID(encode_id("Store", row.id)),
            code=row.code,
            name=row.name,
            address=row.address,
            city=row.city,
        )


@strawberry.type(description="Stock of a product at one place: a store or the online warehouse.")
class StockLevel:
    store: Store | None = strawberry.field(description="The store; null for the online warehouse.")
    online: bool = strawberry.field(description="True for the online warehouse.")
    available: int = strawberry.field(description="Units that can still be sold or reserved.")
    status: StockStatus = strawberry.field(
        description="Available units as a shopper-facing status."
    )


@strawberry.type(description="Where a product can be had: here, online and in every store.")
class Availability:
    here: StockLevel | None = strawberry.field(
        description="The asked-for store; null if none asked."
    )
    online: StockLevel = strawberry.field(description="The online warehouse.")
    stores: list[StockLevel] = strawberry.field(description="Every store, ordered by name.")


def _level(store: StoreRow | None, figure: StockFigure | None, threshold: int) -> StockLevel:
    available = figure.available if figure else 0
    return StockLevel(
        store=Store.from_model(store) if store else None,
        online=store is None,
        available=available,
        status=stock_status(available, threshold),
    )


def _page_availability(read: PageRead, here_id: int | None, threshold: int) -> Availability:
    levels = [
        StockLevel(
            store=Store.from_model(view),
            online=False,
            available=available,
            status=stock_status(available, threshold),
        )
        for view, available in read.stores
    ]
    here = None
    if here_id is not None:
        here = next(
            (lv for (view, _), lv in zip(read.stores, levels, strict=True) if view.id == here_id),
            None,
        )
    online = StockLevel(
        store=None,
        online=True,
        available=read.online,
        status=stock_status(read.online, threshold),
    )
    return Availability(here=here, online=online, stores=levels)


@strawberry.type(description="A sellable product, the same in every channel.")
class Product(Node):
    gtin: str = strawberry.field(
        description="The primary barcode as printed (EAN-13, EAN-8 or GTIN-14)."
    )
    name: str = strawberry.field(description="The product's name.")
    brand: str | None = strawberry.field(description="The brand.")
    description: str | None = strawberry.field(description="A longer description.")
    categories: list[str] = strawberry.field(description="Category path, broad to specific.")
    quantity: str | None = strawberry.field(description="Pack size as printed, e.g. `500 g`.")
    image_url: str | None = strawberry.field(description="A front image of the pack.")
    sku: str = strawberry.field(description="The chain's stock-keeping unit.")
    key: strawberry.Private[int]
    # A product reached from a list (cart line, search hit) keeps its row and resolves its
    # price and stock through the operation's loaders; a scanned product page carries its
    # read-model page (server.product_pages) and resolves everything from it.
    row: strawberry.Private[ProductRow | None] = None
    page: strawberry.Private[PageRead | None] = None
    # The shopper's store when a subscription names it: `availability` without a storeId.
    here_store_id: strawberry.Private[int | None] = None

    @classmethod
    def from_model(cls, row: ProductRow, primary_gtin: str) -> Product:
        """Build the GraphQL product from its row and its primary canonical GTIN."""
        return cls(
            id=strawberry.ID(encode_id("Product", row.id)),
            gtin=str(Gtin(primary_gtin)) if primary_gtin else "",
            name=row.name,
            brand=row.brand,
            description=row.description,
            categories=list(row.categories or []),
            quantity=row.quantity,
            image_url=row.image_url,
            sku=row.sku,
            key=row.id,
            row=row,
        )

    @classmethod
    def from_page(cls, read: PageRead) -> Product:
        """Build the GraphQL product page from the read model, with its stock as read."""
        page = read.page
        return cls(
            id=strawberry.ID(encode_id("Product", page.product_id)),
            gtin=page.printed[0] if page.printed else "",
            name=page.name,
            brand=page.brand,
            description=page.description,
            categories=list(page.categories),
            quantity=page.quantity,
            image_url=page.image_url,
            sku=page.sku,
            key=page.product_id,
            page=read,
        )

    @classmethod
    async def by_id(cls, info: Info, product_id: int, *, active_only: bool) -> Product | None:
        """Build a product reached from a list: from its read-model page with live stock (one
        statement for the whole list), else from its row through the loaders."""
        loaders = context_of(info).loaders
        read = await loaders.page.load(product_id)
        if read is not None:
            return cls.from_page(read)
        row = await loaders.product.load(product_id)
        if row is None or (active_only and not row.active):
            return None
        return await cls.load(info, row)

    @classmethod
    async def load(cls, info: Info, row: ProductRow) -> Product:
        """Build the GraphQL product, fetching its barcodes through the operation's loader."""
        codes = await context_of(info).loaders.barcodes.load(row.id) or []
        return cls.from_model(row, codes[0] if codes else "")

    # gtins, price and availability answer a read-model page at once, without a coroutine
    # (each awaited field costs graphql-core a gather per object); a product built from its
    # row returns the loaders' coroutine instead, which graphql-core awaits like any other.

    @strawberry.field(description="Every barcode of the product, as printed.")
    def gtins(self, info: Info) -> list[str]:
        if self.page is not None:
            return list(self.page.page.printed)
        return cast(list[str], self._loaded_gtins(info))

    async def _loaded_gtins(self, info: Info) -> list[str]:
        codes = await context_of(info).loaders.barcodes.load(self.key) or []
        return [str(Gtin(c)) for c in codes]

    @strawberry.field(description="The price in force now, with the regular price and campaign.")
    def price(self, info: Info) -> Price:
        if self.page is not None and context_of(info).credentials()[0] is None:
            # Campaign windows are evaluated now, on every read (never baked into the page).
            # Someone signed in may be a club member: their price comes through the loader.
            return Price.from_info(self.page.page.price_at(utcnow()))
        return cast(Price, self._loaded_price(info))

    async def _loaded_price(self, info: Info) -> Price:
        ctx = context_of(info)
        found = await ctx.loaders.price.load(self.key)
        return Price.from_info(pricing.shown_price(found, ctx.settings.currency))

    @strawberry.field(
        description=(
            "The current price per kg, litre or piece, when the printed quantity states the "
            "pack size for certain (`500 g`, `1,5 l`, `6 x 0.33 l`, `4 stk`); null otherwise."
        )
    )
    def unit_price(self, info: Info) -> UnitPrice | None:
        if parse_pack(self.quantity) is None:
            return None
        price = self.price(info)
        if isinstance(price, Price):
            return UnitPrice.of(price.current, self.quantity)
        return cast(UnitPrice | None, self._loaded_unit_price(price))

    async def _loaded_unit_price(self, price: Awaitable[Price]) -> UnitPrice | None:
        return UnitPrice.of((await price).current, self.quantity)

    @strawberry.field(description="Stock here (the given store), online and in every store.")
    def availability(
        self,
        info: Info,
        store_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The shopper's store.")
        ] = None,
    ) -> Availability:
        threshold = context_of(info).settings.low_stock_threshold
        here_id = decode_id(store_id, "Store", field="storeId") if store_id else self.here_store_id
        if self.page is not None:
            return _page_availability(self.page, here_id, threshold)
        return cast(Availability, self._loaded_availability(info, here_id, threshold))

    async def _loaded_availability(
        self, info: Info, here_id: int | None, threshold: int
    ) -> Availability:
        ctx = context_of(info)
        figures = await ctx.loaders.stock.load(self.key) or []
        by_store = {f.store_id: f for f in figures if not f.online}
        online = next((f for f in figures if f.online), None)
        stores = await ctx.loaders.all_stores()
        levels = [_level(s, by_store.get(s.id), threshold) for s in stores]
        here = None
        if here_id is not None:
            here = next((lv for s, lv in zip(stores, levels, strict=True) if s.id == here_id), None)
        return Availability(here=here, online=_level(None, online, threshold), stores=levels)

    @strawberry.field(
        description="Products of the same category to offer instead, in stock here first."
    )
    async def alternatives(
        self,
        info: Info,
        store_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The shopper's store.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="How many (0–20).")] = 5,
    ) -> list[Product]:
        return await alternatives_for(info, self, store_id, first)

    @strawberry.field(
        description=(
            "Products most often bought together with this one in the chain's orders and "
            "receipts, in stock at the store (the online warehouse without one)."
        )
    )
    async def complements(
        self,
        info: Info,
        store_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The shopper's store.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="How many (0–20).")] = 5,
    ) -> list[Product]:
        ctx = context_of(info)
        store = decode_id(store_id, "Store", field="storeId") if store_id else None
        ids = await complements_at(await ctx.session(), self.key, store, first)
        rows = await asyncio.gather(*(ctx.loaders.product.load(i) for i in ids))
        return list(await asyncio.gather(*(Product.load(info, r) for r in rows if r is not None)))

    @strawberry.field(description="Where to get the barcode image (SVG; `.png` also served).")
    def barcode_url(self) -> str:
        return f"/barcodes/{self.gtin}.svg"


async def alternatives_for(
    info: Info, product: Product, store_id: strawberry.ID | None, first: int
) -> list[Product]:
    """Return products to offer instead of ``product`` (rules in ``search.alternatives``).

    From the read model when the database has one (candidates ranked at index time, ordered
    by live stock, each with its page: no search call); else from the search engine.
    """
    ctx = context_of(info)
    store = decode_id(store_id, "Store", field="storeId") if store_id else None
    searching.check_alternatives_asked(first)
    ranked = await ctx.runtime.pages.alternatives(product.key, store, first)
    if ranked is not None:
        return await _from_read_model(info, product, ranked)
    if product.page is not None:
        ids = await searching.alternatives_of_page(
            ctx.runtime.search, product.page, store_id=store, first=first
        )
    else:
        ids = await _alternatives_of_row(info, product, store, first)
    rows = await asyncio.gather(*(ctx.loaders.product.load(i) for i in ids))
    live = [r for r in rows if r is not None and r.active and r.id != product.key]
    return list(await asyncio.gather(*(Product.load(info, r) for r in live)))


async def _from_read_model(
    info: Info, product: Product, ranked: list[tuple[int, PageRead | None]]
) -> list[Product]:
    """Build the alternatives from their pages; one with a change pending through the loaders."""
    ctx = context_of(info)
    found: list[Product] = []
    for product_id, read in ranked:
        if read is not None:
            found.append(Product.from_page(read))
            continue
        row = await ctx.loaders.product.load(product_id)
        if row is not None and row.active and row.id != product.key:
            found.append(await Product.load(info, row))
    return found


async def _alternatives_of_row(
    info: Info, product: Product, store: int | None, first: int
) -> list[int]:
    ctx = context_of(info)
    row = product.row
    assert row is not None  # a product built from its row
    gtins, price, stock = await asyncio.gather(
        ctx.loaders.barcodes.load(row.id),
        ctx.loaders.price.load(row.id),
        ctx.loaders.stock.load(row.id),
    )
    return await searching.alternatives_for(
        ctx.runtime.search,
        row,
        gtins=gtins or [],
        price=price,
        stock=stock or [],
        currency=ctx.settings.currency,
        store_id=store,
        first=first,
    )


async def product_by_code(
    info: Info, code: str, store_id: strawberry.ID | None = None
) -> Product | None:
    """Resolve a typed or scanned barcode to the product page, or None if nobody sells it."""
    ctx = context_of(info)
    gtin = parse_gtin(code)
    if not gtin.restricted:
        # A global barcode is the same product everywhere: the read model answers it.
        read = await ctx.runtime.pages.read(gtin)
        return Product.from_page(read) if read is not None else None
    # The chain's own codes may be limited to stores or read as labels: the catalog's rules.
    here = decode_id(store_id, "Store", field="storeId") if store_id else None
    match = await catalog.product_for_code(await ctx.session(), code, here, ctx.runtime.templates)
    if match.product is None:
        return None
    ctx.loaders.prime_products([match.product])
    return await Product.load(info, match.product)


_STORE_ARGUMENT = strawberry.argument(
    description=(
        "The store asking. The chain's own codes (restricted circulation numbers) limited to "
        "some stores are their product only there; without a store they are found anywhere."
    )
)


@strawberry.type
class CatalogQuery:
    @strawberry.field(
        description="The product with this barcode in any printed form; null if unknown."
    )
    async def product(
        self,
        info: Info,
        gtin: Annotated[
            str,
            strawberry.argument(
                description="EAN-13, EAN-8, UPC-A/E, GTIN-14, or one of the chain's own codes."
            ),
        ],
        store_id: Annotated[strawberry.ID | None, _STORE_ARGUMENT] = None,
    ) -> Product | None:
        return await product_by_code(info, gtin, store_id)

    @strawberry.field(
        description=(
            "Products for up to 100 barcodes, in the order first asked; null where unknown. "
            "A barcode asked again, in any printed form (a UPC-A and its EAN-13 are one), is "
            "answered once."
        )
    )
    async def products(
        self,
        info: Info,
        gtins: Annotated[
            list[str], strawberry.argument(description="Barcodes in any printed form.")
        ],
        store_id: Annotated[strawberry.ID | None, _STORE_ARGUMENT] = None,
    ) -> list[Product | None]:
        if len(gtins) > MAX_BATCH_GTINS:
            raise InvalidInput(
                f"Ask for at most {MAX_BATCH_GTINS} barcodes at once.", field="gtins"
            )
        ctx = context_of(info)
        # Keyed by canonical digits: a repeated barcode would otherwise resolve its whole
        # selection (alternatives, availability) once per repetition.
        distinct = list({g.digits: g for g in map(parse_gtin, gtins)}.values())
        here = decode_id(store_id, "Store", field="storeId") if store_id else None
        matches = await catalog.products_for_codes(
            await ctx.session(), distinct, here, ctx.runtime.templates
        )
        found = {d: m.product for d, m in matches.items() if m.product is not None}
        ctx.loaders.prime_products(found.values())
        pages = await asyncio.gather(*(Product.load(info, row) for row in found.values()))
        by_gtin = dict(zip(found, pages, strict=True))
        return [by_gtin.get(g.digits) for g in distinct]

    @strawberry.field(description="Every store of the chain.")
    async def stores(self, info: Info) -> list[Store]:
        return [Store.from_model(s) for s in await context_of(info).loaders.all_stores()]


@strawberry.enum(description="What kind of device a scan came from.")
class DeviceKind(Enum):
    PHONE = "phone"
    WEB = "web"
    KIOSK = "kiosk"
    STAFF = "staff"


@strawberry.input(description="A barcode scanned in a store.")
class ScanInput:
    code: str = strawberry.field(
        description="What the scanner read: a GTIN, GS1 string or Digital Link."
    )
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where it was scanned."
    )
    device_kind: DeviceKind = strawberry.field(
        default=DeviceKind.PHONE, description="Scanning device."
    )
    example: bool = strawberry.field(
        default=False,
        description=(
            "True when the shopper used the example code the scan screen offers: the product "
            "is looked up but the scan is not recorded, so it counts in no report."
        ),
    )


@strawberry.type(description="A price or weight label as the store's template reads it.")
class ScanLabel:
    item_number: str = strawberry.field(description="The item number the label names.")
    weight_grams: int | None = strawberry.field(
        description="The weight the label carries, in grams; null if it carries a price."
    )
    price: Money | None = strawberry.field(
        description="The price printed in the label; null if it carries a weight."
    )

    @classmethod
    def from_code(cls, code: RestrictedCode, currency: str) -> ScanLabel:
        """Build the GraphQL label from the code a template read."""
        price = (
            None if code.price_minor is None else Money(amount=code.price_minor, currency=currency)
        )
        return cls(item_number=code.item_number, weight_grams=code.weight_grams, price=price)


@strawberry.type(description="The result of a scan.")
class ScanPayload:
    product: Product | None = strawberry.field(
        description="The product; null if the code is unknown."
    )
    gtin: str | None = strawberry.field(
        description="The code as a canonical printed GTIN; null for a price or weight label."
    )
    label: ScanLabel | None = strawberry.field(
        description=(
            "Set when the code was read as a price or weight label (one of the chain's own "
            "codes that no product carries): the item, and the weight or price it carries."
        ),
    )
    scan_ref: str | None = strawberry.field(
        default=None,
        description=(
            "Set when the scan was recorded for nobody (no cart token, no session): keep it and "
            "send it in `cartCreate(input.scanRefs)`, so the scan counts for the cart that "
            "follows in the scan reports."
        ),
    )
    errors: list[UserError] = strawberry.field(description="Why the scan failed, if it did.")

    @classmethod
    def failed(cls, error: AppError) -> ScanPayload:
        """Build the payload of a refused scan."""
        return cls(product=None, gtin=None, label=None, errors=[UserError.from_error(error)])


@strawberry.type
class ScanMutation:
    @strawberry.mutation(
        description=(
            "Record a scan and return the product page it leads to. Send the cart token or "
            "session you have, so the scan counts for your cart in the scan reports."
        )
    )
    async def scan(self, info: Info, input: ScanInput) -> ScanPayload:
        ctx = context_of(info)

        async def record(call: Call) -> analytics.ScanOutcome:
            store_id = (
                decode_id(input.store_id, "Store", field="storeId") if input.store_id else None
            )
            scanner = await analytics.scanner_of(call.session, call.viewer)
            return await analytics.record_scan(
                call.session,
                code=input.code,
                store_id=store_id,
                device_kind=input.device_kind.value,
                templates=ctx.runtime.templates,
                customer_id=scanner.customer_id,
                cart_id=scanner.cart_id,
                example=input.example,
            )

        async def scanned(outcome: analytics.ScanOutcome) -> ScanPayload:
            product = await Product.load(info, outcome.product) if outcome.product else None
            label = outcome.restricted
            ref = None
            if outcome.unlinked and outcome.event_id is not None:
                ref = analytics.scan_ref(outcome.event_id, ctx.runtime.secret_key)
            return ScanPayload(
                product=product,
                gtin=str(outcome.gtin) if outcome.gtin else None,
                label=ScanLabel.from_code(label, ctx.settings.currency) if label else None,
                scan_ref=ref,
                errors=[],
            )

        return await run_mutation(info, ScanPayload, record, scanned)
