"""Recording scans: what was scanned, where, by what kind of device, for which cart."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog
from server.errors import NotFound
from server.gtin import Gtin, RestrictedCode, RestrictedTemplate
from server.models import Cart, Product, ScanEvent
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
    """What a scan found: the product (if any) and how the code was read.

    ``gtin`` is set when the code is a product code (known or not); ``restricted`` when it
    was read as a price or weight label instead.
    """

    product: Product | None
    gtin: Gtin | None
    restricted: RestrictedCode | None
    # None when nothing was recorded (a look-up of the screen's example code).
    event_id: int | None
    # The scan was recorded for nobody (no customer, no cart): a cart created next may claim it.
    unlinked: bool = False


async def record_scan(
    session: AsyncSession,
    *,
    code: str,
    store_id: int | None,
    device_kind: str,
    templates: Sequence[RestrictedTemplate],
    customer_id: int | None = None,
    cart_id: int | None = None,
    example: bool = False,
) -> ScanOutcome:
    """Read a scanned code, find its product, and record the scan event.

    A malformed code raises InvalidGtin and records nothing. A well-formed but unknown code
    is recorded with no product, since it tells the chain what shoppers look for.
    The code is read by ``catalog.product_for_code`` in the scanning store: a chain's own code
    (restricted circulation number) in the catalog is that product; a price or weight label
    is recorded with the product of its item number and no GTIN (the code itself, with its
    price or weight, is in ``code``); one that neither reads raises InvalidGtin.
    ``example``: the shopper looked up the example code the scan screen offers; the product
    is found as for any scan but nothing is recorded, so examples never count in a report
    (not as demand, not as missed demand, not as an unknown code).
    """
    if device_kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {device_kind!r}")
    if store_id is not None and (await catalog.stores_by_ids(session, [store_id])) == {}:
        raise NotFound("No such store.", field="storeId")
    match = await catalog.product_for_code(session, code, store_id, templates)
    product, restricted = match.product, match.label
    gtin = None if restricted is not None else match.gtin
    if example:
        return ScanOutcome(product=product, gtin=gtin, restricted=restricted, event_id=None)
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
    return ScanOutcome(
        product=product,
        gtin=gtin,
        restricted=restricted,
        event_id=event.id,
        unlinked=customer_id is None and cart_id is None,
    )


# A guest's first scans come before their cart: the scan answers a signed reference to the
# event, and the cart created next names those references to claim the scans (scan reports
# then count them for that cart). The signature keeps anyone from claiming others' scans.
MAX_SCAN_REFS = 20


def scan_ref(event_id: int, secret_key: str) -> str:
    """Return the reference a guest's device keeps for a scan made before it had a cart."""
    return f"{event_id}.{_ref_signature(event_id, secret_key)}"


def _ref_signature(event_id: int, secret_key: str) -> str:
    message = f"scan:{event_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:24]


def scan_ids_of(refs: Sequence[str], secret_key: str) -> list[int]:
    """Return the scan events that well-signed references name (others are ignored)."""
    ids: list[int] = []
    for ref in refs[:MAX_SCAN_REFS]:
        number, _, signature = ref.partition(".")
        if not number.isdigit() or len(number) > 18:
            continue
        event_id = int(number)
        if hmac.compare_digest(signature, _ref_signature(event_id, secret_key)):
            ids.append(event_id)
    return ids


async def link_scans_to_cart(
    session: AsyncSession,
    refs: Sequence[str],
    cart_id: int,
    *,
    secret_key: str,
    window: timedelta,
    now: datetime,
) -> int:
    """Record the new cart on the scans its device made before it had one; return how many.

    Only scans recorded for nobody (no customer, no cart) and at most ``window`` old are
    claimed: a reference cannot move a scan from one cart to another.
    """
    ids = scan_ids_of(refs, secret_key)
    if not ids:
        return 0
    result = await session.execute(
        update(ScanEvent)
        .where(
            ScanEvent.id.in_(ids),
            ScanEvent.cart_id.is_(None),
            ScanEvent.customer_id.is_(None),
            ScanEvent.scanned_at >= now - window,
        )
        .values(cart_id=cart_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
