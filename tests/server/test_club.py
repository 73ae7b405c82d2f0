"""The club's ledger for real: points from orders, till receipts and returns; no double spend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.club import account, points, purchases
from server.club.membership import Consents, join_club, member_for_code
from server.club.numbers import new_member_number, normalise_member_number
from server.club.receipts import record_receipt, record_receipt_return
from server.db import Database
from server.errors import InsufficientPoints, InvalidInput, NotFound, PermissionDenied
from server.models import Customer, Order, OrderLine, PointEntry, StaffAuditEntry
from server.orders import ReturnLine, take_return, transition
from server.staff import StaffActor
from server.states import FulfilmentMethod, OrderChannel, OrderStatus
from server.viewer import Viewer
from tests.rows import add_product, add_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADMIN = StaffActor(role="admin", store_id=None)
RATE = 1  # point per 10 kr


async def add_customer(
    db: Database, email: str, *, phone: str | None = "+47 912 34 567", member: bool = True
) -> int:
    """Create a customer (a club member unless told otherwise); return the id."""
    async with db.transaction() as session:
        customer = Customer(email=email, password_hash="-", name="Kari Nordmann", phone=phone)
        session.add(customer)
        await session.flush()
        if member:
            await join_club(session, customer.id, Consents(club_terms=True), now=NOW)
        return customer.id


async def add_order(
    db: Database,
    customer_id: int,
    store_id: int,
    location_id: int,
    lines: list[tuple[int, int, int]],
) -> int:
    """Write a placed click-and-collect order of (product id, unit price, quantity) lines."""
    total = sum(unit * quantity for _, unit, quantity in lines)
    async with db.transaction() as session:
        order = Order(
            status=OrderStatus.PLACED,
            fulfilment=FulfilmentMethod.CLICK_AND_COLLECT,
            channel=OrderChannel.WEB,
            pickup_store_id=store_id,
            location_id=location_id,
            customer_id=customer_id,
            currency="NOK",
            subtotal=total,
            total=total,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(order)
        await session.flush()
        for i, (product_id, unit, quantity) in enumerate(lines):
            session.add(
                OrderLine(
                    order_id=order.id,
                    position=i,
                    product_id=product_id,
                    gtin="",
                    name="Test product",
                    unit_price=unit,
                    regular_unit_price=unit,
                    quantity=quantity,
                    line_total=unit * quantity,
                )
            )
        return order.id


async def ledger(db: Database, customer_id: int) -> list[tuple[str, int, str, bool, bool]]:
    """Return (kind, points, reason, from an order, from a receipt) of each row, in order."""
    async with db.transaction(write=False) as session:
        return [
            (e.kind, e.points, e.reason, e.order_id is not None, e.receipt_id is not None)
            for e in await points.ledger_of(session, customer_id)
        ]


async def balance(db: Database, customer_id: int) -> int:
    async with db.transaction(write=False) as session:
        return await points.balance(session, customer_id)


def test_member_numbers_carry_a_luhn_check_digit() -> None:
    numbers = {new_member_number() for _ in range(200)}
    assert len(numbers) == 200
    for number in numbers:
        assert len(number) == 10 and number[0] != "0"
        assert normalise_member_number(number) == number
        assert normalise_member_number(f"{number[:4]} {number[4:]}") == number
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert normalise_member_number(wrong) is None
    assert normalise_member_number("12345") is None


async def test_an_order_collected_a_till_sale_and_a_return_make_exactly_these_rows(
    db: Database,
) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=4990, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    order_id = await add_order(db, member, store_id, location, [(product, 4990, 3)])
    async with db.transaction() as session:
        await transition(
            session, ADMIN, order_id, "mark_ready", now=NOW, pickup_days=7, points_per_10_kr=RATE
        )
        await transition(
            session,
            ADMIN,
            order_id,
            "mark_collected",
            now=NOW,
            pickup_days=7,
            points_per_10_kr=RATE,
        )
    # 149.70 kr paid: 14 points.
    assert await balance(db, member) == 14
    async with db.transaction() as session:
        receipt = await record_receipt(
            session,
            member_code="912 34 567",
            receipt_number="OSL-1-000042",
            lines=[(product, 2)],
            at=NOW,
            currency="NOK",
            points_per_10_kr=RATE,
            store_id=store_id,
        )
    assert (receipt.customer_id, receipt.total, receipt.recorded) == (member, 9980, True)
    assert await balance(db, member) == 14 + 9
    async with db.transaction() as session:
        await take_return(
            session,
            ADMIN,
            order_id,
            store_id=store_id,
            lines=[ReturnLine(await _line_id(session, order_id), 1)],
            now=NOW,
            points_per_10_kr=RATE,
        )
    # Kept 2 × 49.90 = 99.80 kr: 9 points, so 5 of the 14 go back.
    assert await ledger(db, member) == [
        ("earned", 14, "order", True, False),
        ("earned", 9, "till receipt", False, True),
        ("revoked", -5, "return", True, False),
    ]
    assert await balance(db, member) == 18


async def _line_id(session: object, order_id: int) -> int:
    return int(
        (
            await session.execute(select(OrderLine.id).where(OrderLine.order_id == order_id))
        ).scalar_one()  # type: ignore[attr-defined]
    )


async def test_a_receipt_recorded_twice_earns_once(db: Database) -> None:
    _, location = await add_store(db, "OSL")
    product = await add_product(db, price=25000, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    async with db.transaction() as session:
        number = await session.scalar(select(Customer.id).where(Customer.id == member))
        assert number == member
    for _ in range(2):
        async with db.transaction() as session:
            code = await points_member_number(session, member)
            found = await record_receipt(
                session,
                member_code=code,
                receipt_number="R-1",
                lines=[(product, 1)],
                at=NOW,
                currency="NOK",
                points_per_10_kr=RATE,
            )
    assert found.recorded is False
    assert await ledger(db, member) == [("earned", 25, "till receipt", False, True)]
    async with db.transaction() as session:
        await record_receipt_return(
            session, receipt_number="R-1", lines=[(product, 1)], at=NOW, points_per_10_kr=RATE
        )
        with pytest.raises(NotFound):
            await record_receipt_return(
                session, receipt_number="R-2", lines=[(product, 1)], at=NOW, points_per_10_kr=RATE
            )
    assert await balance(db, member) == 0


async def points_member_number(session: object, customer_id: int) -> str:
    from server.club.membership import memberships_of

    found = (await memberships_of(session, [customer_id]))[customer_id]  # type: ignore[arg-type]
    assert found is not None
    return found.number


async def test_a_phone_names_a_member_only_when_exactly_one_has_it(db: Database) -> None:
    await add_customer(db, "a@example.com", phone="+47 400 00 001")
    await add_customer(db, "b@example.com", phone="400 00 002")
    await add_customer(db, "c@example.com", phone="40000002")
    await add_customer(db, "d@example.com", phone="40000003", member=False)
    async with db.transaction(write=False) as session:
        assert await member_for_code(session, "0047 40000001") > 0
        for code in ("40000002", "40000003", "4000000", "x40000001"):
            with pytest.raises(NotFound):
                await member_for_code(session, code)


async def test_holds_refuse_non_members_too_many_points_and_more_than_the_order(
    db: Database,
) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=1000, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    guest = await add_customer(db, "ola@example.com", member=False)
    order_id = await add_order(db, member, store_id, location, [(product, 1000, 1)])
    async with db.transaction() as session:
        await points.add_entry(session, member, points.PointKind.EARNED, 500, "gift", now=NOW)
        with pytest.raises(PermissionDenied):
            await points.hold_for_order(
                session, guest, 10, order_id=order_id, order_total=1000, now=NOW
            )
        with pytest.raises(InvalidInput) as too_much:
            await points.hold_for_order(
                session, member, 101, order_id=order_id, order_total=1000, now=NOW
            )
        assert too_much.value.field == "usePoints"
        with pytest.raises(InvalidInput):
            await points.hold_for_order(
                session, member, -1, order_id=order_id, order_total=1000, now=NOW
            )
    async with db.transaction() as session:
        with pytest.raises(InsufficientPoints):
            await points.hold_for_order(
                session, member, 501, order_id=order_id, order_total=10**6, now=NOW
            )


async def test_50_concurrent_checkouts_never_spend_more_than_the_balance(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=10000, stock={location: (100, 0)})
    member = await add_customer(db, "kari@example.com")
    orders = [
        await add_order(db, member, store_id, location, [(product, 10000, 1)]) for _ in range(50)
    ]
    async with db.transaction() as session:
        await points.add_entry(session, member, points.PointKind.EARNED, 1000, "gift", now=NOW)

    async def spend(order_id: int) -> bool:
        try:
            async with db.transaction() as session:
                await points.hold_for_order(
                    session, member, 300, order_id=order_id, order_total=10000, now=NOW
                )
        except InsufficientPoints:
            return False
        return True

    results = await asyncio.gather(*(spend(order_id) for order_id in orders))
    assert results.count(True) == 3
    assert await balance(db, member) == 100
    async with db.transaction(write=False) as session:
        held = (
            (await session.execute(select(PointEntry.points).where(PointEntry.kind == "held")))
            .scalars()
            .all()
        )
    assert sorted(held) == [-300, -300, -300]


async def test_cancelling_releases_and_collecting_spends_the_hold(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=10000, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    kept = await add_order(db, member, store_id, location, [(product, 10000, 1)])
    dropped = await add_order(db, member, store_id, location, [(product, 10000, 1)])
    async with db.transaction() as session:
        await points.add_entry(session, member, points.PointKind.EARNED, 600, "gift", now=NOW)
        for order_id in (kept, dropped):
            await points.hold_for_order(
                session, member, 300, order_id=order_id, order_total=10000, now=NOW
            )
    async with db.transaction() as session:
        await transition(
            session, ADMIN, dropped, "cancel", now=NOW, pickup_days=7, points_per_10_kr=RATE
        )
        await transition(
            session, ADMIN, kept, "mark_ready", now=NOW, pickup_days=7, points_per_10_kr=RATE
        )
        await transition(
            session, ADMIN, kept, "mark_collected", now=NOW, pickup_days=7, points_per_10_kr=RATE
        )
    # 100 kr less 30 kr of points: 70 kr paid, 7 points.
    assert await ledger(db, member) == [
        ("earned", 600, "gift", False, False),
        ("spent", -300, "checkout", True, False),
        ("held", -300, "checkout", True, False),
        ("released", 300, "order cancelled or expired", True, False),
        ("earned", 7, "order", True, False),
    ]
    assert await balance(db, member) == 307
    async with db.transaction() as session:
        await take_return(
            session, ADMIN, kept, store_id=store_id, lines=None, now=NOW, points_per_10_kr=RATE
        )
    # Everything back: the 300 points come back, the 7 earned go.
    assert (await ledger(db, member))[-2:] == [
        ("refunded", 300, "return", True, False),
        ("revoked", -7, "return", True, False),
    ]
    assert await balance(db, member) == 600


async def test_deleting_an_account_keeps_its_orders_without_personal_fields(
    db: Database,
) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=1000, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    order_id = await add_order(db, member, store_id, location, [(product, 1000, 1)])
    viewer = Viewer(customer_id=member)
    async with db.transaction() as session:
        exported = await account.export_data(session, viewer)
        assert exported["customer"]["email"] == "kari@example.com"
        assert [o["id"] for o in exported["orders"]] == [order_id]
        with pytest.raises(InvalidInput):
            await account.delete_account(session, viewer, confirm_email="ola@example.com", now=NOW)
        assert (
            await account.delete_account(
                session, viewer, confirm_email=" KARI@example.com", now=NOW
            )
            == 1
        )
    async with db.transaction(write=False) as session:
        kept = (await session.execute(select(Order.customer_id).where(Order.id == order_id))).one()
        gone = await session.scalar(select(Customer.id).where(Customer.id == member))
        audit = (
            await session.execute(select(StaffAuditEntry.action, StaffAuditEntry.subject_id))
        ).all()
        rows = await session.scalar(select(func.count()).select_from(PointEntry))
    assert (tuple(kept), gone, rows) == ((None,), None, 0)
    assert [tuple(a) for a in audit] == [("customer.delete", member)]


async def test_purchases_page_orders_and_receipts_newest_first(db: Database) -> None:
    store_id, location = await add_store(db, "OSL")
    product = await add_product(db, price=1000, stock={location: (10, 0)})
    member = await add_customer(db, "kari@example.com")
    first = await add_order(db, member, store_id, location, [(product, 1000, 1)])
    second = await add_order(db, member, store_id, location, [(product, 1000, 1)])
    async with db.transaction() as session:
        receipt = await record_receipt(
            session,
            member_code="91234567",
            receipt_number="R-9",
            lines=[(product, 1)],
            at=NOW + timedelta(hours=1),
            currency="NOK",
            points_per_10_kr=RATE,
        )
        viewer = Viewer(customer_id=member)
        page = await purchases.purchases_for(session, viewer, member, first=2, after=None, now=NOW)
        rest = await purchases.purchases_for(
            session, viewer, member, first=2, after=("order", second), now=NOW
        )
        with pytest.raises(PermissionDenied):
            await purchases.purchases_for(session, Viewer(), member, first=2, after=None, now=NOW)
    assert [(p.kind, p.id) for p in page.items] == [("receipt", receipt.id), ("order", second)]
    assert page.has_next is True
    assert [(p.kind, p.id) for p in rest.items] == [("order", first)]
    assert rest.has_next is False
