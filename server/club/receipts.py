"""Till sales of members: a receipt recorded for purchase history and points, once per number.

The till (through the integration that reports its stock movements) names the member by
phone or member number, the receipt number and the lines (product id, quantity); prices
are the one price truth (``server.pricing``) at the time of sale, with member prices.
A till may report one receipt's lines in several batches: ``add_to_receipt`` adds a later
batch's lines to the receipt and earns what the whole receipt earns beyond what it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import catalog, pricing
from server.club.membership import member_for_code
from server.club.points import add_entry, earned_on, settle_return
from server.errors import InvalidInput, InvalidQuantity, NotFound
from server.models import Receipt, ReceiptLine
from server.states import PointKind

MAX_LINES = 200
MAX_NUMBER = 64


@dataclass(frozen=True, slots=True)
class ReceiptLineView:
    """One product of a receipt at the price paid."""

    product_id: int
    name: str
    unit_price: int
    quantity: int
    line_total: int
    returned_quantity: int


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A recorded till receipt; ``recorded`` is False when the number was already known."""

    id: int
    number: str
    customer_id: int | None
    store_id: int | None
    currency: str
    total: int
    sold_at: datetime
    lines: tuple[ReceiptLineView, ...]
    recorded: bool = True


async def record_receipt(
    session: AsyncSession,
    *,
    member_code: str,
    receipt_number: str,
    lines: Sequence[tuple[int, int]],
    at: datetime,
    currency: str,
    points_per_10_kr: int,
    store_id: int | None = None,
) -> ReceiptView:
    """Record a member's till sale and earn its points; the same number again changes nothing.

    Raises NotFound (no such member; a product that does not exist or has no price),
    InvalidInput (number, no lines) and InvalidQuantity.
    """
    number = _checked_number(receipt_number)
    earlier = await receipt_by_number(session, number)
    if earlier is not None:
        return _replayed(earlier)
    customer_id = await member_for_code(session, member_code)
    priced = await _priced(session, lines, currency, at)
    total = sum(line.line_total for line in priced)
    try:
        async with session.begin_nested():
            receipt_id = await _insert(
                session, number, customer_id, store_id, currency, total, at, priced
            )
    except IntegrityError:  # the same receipt recorded at the same moment elsewhere
        again = await receipt_by_number(session, number)
        assert again is not None
        return _replayed(again)
    await add_entry(
        session,
        customer_id,
        PointKind.EARNED,
        earned_on(total, points_per_10_kr),
        "till receipt",
        now=at,
        receipt_id=receipt_id,
    )
    found = await receipt_by_number(session, number)
    assert found is not None
    return found


async def add_to_receipt(
    session: AsyncSession,
    *,
    receipt_number: str,
    lines: Sequence[tuple[int, int]],
    points_per_10_kr: int,
) -> ReceiptView:
    """Add more lines of a recorded receipt (priced as at its sale) and earn on the whole.

    The receipt row is updated first, so two batches of one receipt take turns. The points
    earned become those of the whole total: ``earned_on(new) - earned_on(old)`` more.
    Raises NotFound (no such receipt; a product not sold), InvalidInput, InvalidQuantity.
    """
    number = _checked_number(receipt_number)
    head = (
        await session.execute(select(Receipt).where(Receipt.number == number))
    ).scalar_one_or_none()
    if head is None:
        raise NotFound("There is no such receipt.", field="receiptNumber")
    priced = await _priced(session, lines, head.currency, head.sold_at)
    added = sum(line.line_total for line in priced)
    new_total = (
        await session.execute(
            update(Receipt)
            .where(Receipt.id == head.id)
            .values(total=Receipt.total + added)
            .returning(Receipt.total)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    await _merge_lines(session, head.id, priced)
    if head.customer_id is not None:
        await add_entry(
            session,
            head.customer_id,
            PointKind.EARNED,
            earned_on(new_total, points_per_10_kr) - earned_on(new_total - added, points_per_10_kr),
            "till receipt",
            now=head.sold_at,
            receipt_id=head.id,
        )
    found = await receipt_by_number(session, number)
    assert found is not None
    return found


async def _merge_lines(
    session: AsyncSession, receipt_id: int, priced: Sequence[ReceiptLineView]
) -> None:
    """Add units to the receipt's lines of these products; new products become new lines."""
    known = set(
        (
            await session.execute(
                select(ReceiptLine.product_id).where(ReceiptLine.receipt_id == receipt_id)
            )
        ).scalars()
    )
    last = await session.scalar(
        select(func.coalesce(func.max(ReceiptLine.position), -1)).where(
            ReceiptLine.receipt_id == receipt_id
        )
    )
    fresh = []
    for line in priced:
        if line.product_id not in known:
            fresh.append(line)
            continue
        await session.execute(
            update(ReceiptLine)
            .where(ReceiptLine.receipt_id == receipt_id, ReceiptLine.product_id == line.product_id)
            .values(
                quantity=ReceiptLine.quantity + line.quantity,
                line_total=ReceiptLine.line_total + line.line_total,
            )
            .execution_options(synchronize_session=False)
        )
    if fresh:
        await _insert_lines(
            session, receipt_id, fresh, first_position=(-1 if last is None else last) + 1
        )


async def record_receipt_return(
    session: AsyncSession,
    *,
    receipt_number: str,
    lines: Sequence[tuple[int, int]],
    at: datetime,
    points_per_10_kr: int,
) -> ReceiptView:
    """Count units of a receipt brought back to the till and take back their points."""
    receipt = await receipt_by_number(session, _checked_number(receipt_number))
    if receipt is None:
        raise NotFound("There is no such receipt.", field="receiptNumber")
    left = {line.product_id: line.quantity - line.returned_quantity for line in receipt.lines}
    for i, (product_id, quantity) in enumerate(lines):
        if product_id not in left:
            raise NotFound("The receipt has no such product.", field=f"lines[{i}]")
        if not 1 <= quantity <= left[product_id]:
            raise InvalidQuantity(
                f"Between 1 and {left[product_id]} unit(s) can come back.", field=f"lines[{i}]"
            )
        left[product_id] -= quantity
        await session.execute(
            update(ReceiptLine)
            .where(ReceiptLine.receipt_id == receipt.id, ReceiptLine.product_id == product_id)
            .values(returned_quantity=ReceiptLine.returned_quantity + quantity)
            .execution_options(synchronize_session=False)
        )
    unit = {line.product_id: line.unit_price for line in receipt.lines}
    kept = sum(unit[pid] * units for pid, units in left.items())
    await settle_return(
        session,
        receipt.customer_id,
        total=receipt.total,
        kept=kept,
        now=at,
        points_per_10_kr=points_per_10_kr,
        receipt_id=receipt.id,
    )
    found = await receipt_by_number(session, receipt.number)
    assert found is not None
    return found


async def receipt_by_number(session: AsyncSession, number: str) -> ReceiptView | None:
    """Return the receipt recorded under a number, with its lines."""
    row = (
        await session.execute(select(Receipt).where(Receipt.number == number))
    ).scalar_one_or_none()
    if row is None:
        return None
    found = await receipts_by_ids(session, [row.id])
    return found[row.id]


async def receipts_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, ReceiptView]:
    """Return receipts with their lines by id, in two queries."""
    if not ids:
        return {}
    heads = (await session.execute(select(Receipt).where(Receipt.id.in_(set(ids))))).scalars()
    lines: dict[int, list[ReceiptLineView]] = {}
    for r in (
        await session.execute(
            select(ReceiptLine)
            .where(ReceiptLine.receipt_id.in_(set(ids)))
            .order_by(ReceiptLine.receipt_id, ReceiptLine.position)
        )
    ).scalars():
        lines.setdefault(r.receipt_id, []).append(
            ReceiptLineView(
                r.product_id, r.name, r.unit_price, r.quantity, r.line_total, r.returned_quantity
            )
        )
    return {
        h.id: ReceiptView(
            h.id,
            h.number,
            h.customer_id,
            h.store_id,
            h.currency,
            h.total,
            h.sold_at,
            tuple(lines.get(h.id, ())),
        )
        for h in heads
    }


def _checked_number(text: str) -> str:
    number = text.strip()
    if not 1 <= len(number) <= MAX_NUMBER or "\x00" in number:
        raise InvalidInput(
            f"A receipt number has 1 to {MAX_NUMBER} characters.", field="receiptNumber"
        )
    return number


def _replayed(view: ReceiptView) -> ReceiptView:
    return ReceiptView(
        view.id,
        view.number,
        view.customer_id,
        view.store_id,
        view.currency,
        view.total,
        view.sold_at,
        view.lines,
        recorded=False,
    )


async def _priced(
    session: AsyncSession, lines: Sequence[tuple[int, int]], currency: str, at: datetime
) -> list[ReceiptLineView]:
    """Price the till's lines at member prices in force at the sale; one line per product."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidInput(f"A receipt has 1 to {MAX_LINES} lines.", field="lines")
    units: dict[int, int] = {}
    for i, (product_id, quantity) in enumerate(lines):
        if not 1 <= quantity <= 10_000:
            raise InvalidQuantity("A line has 1 to 10000 units.", field=f"lines[{i}]")
        units[product_id] = units.get(product_id, 0) + quantity
    products = await catalog.products_by_ids(session, list(units))
    prices = await pricing.unit_prices(session, list(units), currency, at=at, member=True)
    priced: list[ReceiptLineView] = []
    for product_id, quantity in units.items():
        price = prices.get(product_id)
        if product_id not in products or price is None:
            raise NotFound(f"Product {product_id} is not sold.", field="lines")
        priced.append(
            ReceiptLineView(
                product_id,
                products[product_id].name,
                price.current,
                quantity,
                pricing.line_total(price, quantity),
                0,
            )
        )
    return priced


async def _insert(
    session: AsyncSession,
    number: str,
    customer_id: int,
    store_id: int | None,
    currency: str,
    total: int,
    at: datetime,
    priced: Sequence[ReceiptLineView],
) -> int:
    receipt_id = (
        await session.execute(
            insert(Receipt)
            .values(
                number=number,
                customer_id=customer_id,
                store_id=store_id,
                currency=currency,
                total=total,
                sold_at=at,
                created_at=at,
            )
            .returning(Receipt.id)
        )
    ).scalar_one()
    await _insert_lines(session, receipt_id, priced, first_position=0)
    return receipt_id


async def _insert_lines(
    session: AsyncSession,
    receipt_id: int,
    priced: Sequence[ReceiptLineView],
    *,
    first_position: int,
) -> None:
    await session.execute(
        insert(ReceiptLine),
        [
            {
                "receipt_id": receipt_id,
                "position": first_position + i,
                "product_id": line.product_id,
                "name": line.name,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "line_total": line.line_total,
                "returned_quantity": 0,
            }
            for i, line in enumerate(priced)
        ],
    )
