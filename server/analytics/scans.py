"""Recording scans: what was scanned, where, by what kind of device, for which cart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import InvalidGtin, NotFound
from server.gtin import Gtin, RestrictedCode, RestrictedTemplate, parse_scan
from server.models import Cart, Product, ScanEvent, StoreItemCode
from server.states import CartStatus
from server.viewer import Viewer

DEVICE_KINDS = ("phone", "web", "kiosk", "staff")


@dataclass(frozen=True, slots=True)
class Scanner:
    """Whose scan it is, as far as the request tells: a customer and their cart, or a cart."""

    customer_id: int | None = None
    cart_id: int | None = None


async def scanner_of(session: AsyncSession, viewer: Viewer) -> Scanner:
    """Return the customer and the active cart behind a scan (what links it to cart lines).

    A signed-in customer's scan records the customer and their active cart; a guest's the
    cart its ``X-Cart-Token`` reaches; anyone else's neither.
    """
    if viewer.customer_id is not None:
        cart_id = await session.scalar(
            select(Cart.id).where(
                Cart.customer_id == viewer.customer_id, Cart.status == CartStatus.ACTIVE
            )
        )
        return Scanner(viewer.customer_id, cart_id)
    if viewer.cart_token_hash is not None:
        cart_id = await session.scalar(
            select(Cart.id).where(
                and_(
                    Cart.token_hash == viewer.cart_token_hash,
                    Cart.customer_id.is_(None),
                    Cart.status == CartStatus.ACTIVE,
                )
            )
        )
        return Scanner(None, cart_id)
    return Scanner()


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What a scan found: the product (if any) and how the code was read."""

    product: Product | None
    gtin: Gtin | None
    restricted: RestrictedCode | None
    event_id: int


async def _product_for_restricted(
    session: AsyncSession, code: RestrictedCode, store_id: int | None
) -> Product | None:
    if store_id is None:
        raise InvalidGtin(
            "This is an in-store label; scan it with a store chosen.", field="storeId"
        )
    stmt = (
        select(Product)
        .join(StoreItemCode, StoreItemCode.product_id == Product.id)
        .where(StoreItemCode.store_id == store_id, StoreItemCode.item_number == code.item_number)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_scan(
    session: AsyncSession,
    *,
    code: str,
    store_id: int | None,
    device_kind: str,
    templates: Sequence[RestrictedTemplate],
    customer_id: int | None = None,
    cart_id: int | None = None,
) -> ScanOutcome:
    """Read a scanned code, find its product, and record the scan event.

    A malformed code raises InvalidGtin and records nothing. A well-formed but unknown code
    is recorded with no product, since it tells the chain what shoppers look for.
    In-store labels (restricted-circulation codes) are looked up in the scanning store only.
    """
    if device_kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {device_kind!r}")
    if store_id is not None and (await catalog.stores_by_ids(session, [store_id])) == {}:
        raise NotFound("No such store.", field="storeId")
    parsed = parse_scan(code, templates)
    gtin: Gtin | None = None
    restricted: RestrictedCode | None = None
    if isinstance(parsed, RestrictedCode):
        restricted = parsed
        product = await _product_for_restricted(session, parsed, store_id)
    else:
        gtin = parsed
        product = await catalog.product_by_gtin(session, parsed)
    available_here: bool | None = None
    if product is not None and store_id is not None:
        figures = (await catalog.stock_by_product(session, [product.id])).get(product.id, [])
        available_here = any(f.store_id == store_id and f.available > 0 for f in figures)
    event = ScanEvent(
        code=code[:64],
        gtin=gtin.digits if gtin else None,
        product_id=product.id if product else None,
        store_id=store_id,
        device_kind=device_kind,
        customer_id=customer_id,
        cart_id=cart_id,
        available_here=available_here,
    )
    session.add(event)
    await session.flush()
    return ScanOutcome(product=product, gtin=gtin, restricted=restricted, event_id=event.id)
